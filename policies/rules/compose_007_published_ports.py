"""Compose: ports bound to a specific interface, no privileged host ports."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from slm_deploy.policies.access import as_number, items
from slm_deploy.policies.model import CIS_DOCKER, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

SHORT = re.compile(r"^(?:(\[[0-9a-fA-F:]+\]|[0-9]+\.[0-9.]+):)?(?:([0-9]+(?:-[0-9]+)?):)?([0-9]+(?:-[0-9]+)?)(?:/\w+)?$")


def binds_every_interface(host: str | None) -> bool:
    """Whether a port binds all interfaces: no host, or 0.0.0.0 / :: in any spelling (0:0::0)."""
    if not host or not host.strip("[]"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _parse(port) -> tuple[str | None, float | None]:
    """(host address, first published port) of a short- or long-syntax port entry."""
    if isinstance(port, Mapping):
        published = port.get("published")
        first = str(published).split("-")[0] if published is not None else None
        return (str(port.get("host_ip")) if port.get("host_ip") is not None else None,
                as_number(first) if first else None)
    match = SHORT.match(str(port))
    if not match:
        return None, None
    host, published, _target = match.groups()
    return host, as_number(published.split("-")[0]) if published else None


def check(project, ctx):
    """Yield violations for ports published on every interface or on privileged host ports."""
    minimum = ctx.get_int("minHostPort")
    for path, service in services(project):
        for index, port in enumerate(items(service.get("ports"))):
            host, published = _parse(port)
            if binds_every_interface(host):
                yield f"{path}.ports[{index}] must bind a specific host address (127.0.0.1 unless exposed)"
            if published is not None and published < minimum:
                yield f"{path}.ports[{index}] publishes a privileged host port below {minimum}"


RULE = Rule(
    id="slm-compose-007",
    name="Compose ports are published on a specific host address and never on privileged host ports.",
    severity=Severity.HIGH,
    controls=("C-ports",),
    kinds=KINDS,
    rationale="`8000:8000` publishes on every interface and Docker's iptables rules bypass host firewalls; "
              "the model API would be on the network without the gateway in front.",
    remediation='Publish as "127.0.0.1:8000:8000" (or the spec\'s bind address), and only the gateway.',
    benchmarks=(bench(CIS_DOCKER, "5.7", "5.13"),),
    check=check,
    tags=("compose", "network", "exposure"),
    options=(Option("minHostPort", {"type": "integer", "minimum": 1, "maximum": 65535, "default": 1024},
                    "Lowest host port a service may publish."),),
)
