"""Compose: services that publish nothing sit only on internal networks."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, is_egress_proxy, services


def _attached(service) -> list[str]:
    """Networks a service joins (list or mapping syntax); the implicit default network when none."""
    networks = service.get("networks")
    if isinstance(networks, Mapping):
        return sorted(str(k) for k in networks.keys())
    names = [str(n) for n in items(networks)]
    return names or ["default"]


def check(project, ctx):
    """Yield violations for backend services attached to non-internal networks (the egress proxy needs a route out)."""
    declared = mapping(get(project, "networks"))
    for path, service in services(project):
        if items(service.get("ports")) or service.get("network_mode") == "none" or is_egress_proxy(service):
            continue
        for name in _attached(service):
            if mapping(declared.get(name)).get("internal") is not True:
                yield f"{path} publishes no ports but joins a network that is not internal: true"
                break


RULE = Rule(
    id="slm-compose-008",
    name="Compose services that publish no ports are attached only to internal networks.",
    severity=Severity.MEDIUM,
    controls=("C-networks",),
    kinds=KINDS,
    rationale="An internal network has no route out, so a compromised backend (the model server, "
              "Prometheus) cannot exfiltrate data or reach the internet. The model downloads' egress proxy "
              "is exempt: it must reach the model hub, and it lets through only the model source's host names "
              "(slm-compose-015 keeps the downloads behind it). The exemption goes by what the service is, not "
              "its label: `slm-deploy.io/component: egress-proxy` on a service that does not run the rendered "
              "Squid (`/usr/sbin/squid -N -f /etc/squid/squid.conf`), or that publishes ports or holds volumes "
              "or secrets, exempts nothing (slm-compose-016).",
    remediation="Declare a backend network with `internal: true`, attach backend services only to it and let "
                "the gateway join both frontend and backend; put model downloads on an internal network with the "
                "egress proxy, which alone joins an egress network.",
    benchmarks=(bench(CIS_DOCKER, "5.30"),),
    check=check,
    tags=("compose", "network"),
)
