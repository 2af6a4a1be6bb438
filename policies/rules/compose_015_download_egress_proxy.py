"""Compose: a model download has no route out of its own; it reaches the hub only through the egress proxy."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, is_model_prep, services

OFFLINE = "none"


def _attached(service) -> list[str]:
    """Networks a service joins (list or mapping syntax); the implicit default network when none."""
    networks = service.get("networks")
    if isinstance(networks, Mapping):
        return sorted(str(k) for k in networks.keys())
    return [str(n) for n in items(networks)] or ["default"]


def check(project, ctx):
    """Yield a violation per model-preparation service that joins a network with a route out, or shares another
    container's or the host's network."""
    declared = mapping(get(project, "networks"))
    for path, service in services(project):
        if not is_model_prep(service):
            continue
        mode = service.get("network_mode")
        if mode == OFFLINE:
            continue
        if mode is not None:
            yield f"{path} is a model download that shares another network namespace (network_mode), " \
                  "not an internal network with the egress proxy"
            continue
        for name in _attached(service):
            if mapping(declared.get(name)).get("internal") is not True:
                yield f"{path} is a model download on network {name}, which is not internal: true " \
                      "(its only way out must be the egress proxy)"


RULE = Rule(
    id="slm-compose-015",
    name="Compose model downloads join only internal networks, so the egress proxy is their only way out.",
    severity=Severity.MEDIUM,
    controls=("C-download-egress",),
    kinds=KINDS,
    rationale="The download step holds the hub token and runs a client that follows redirects; on a network with "
              "a route out it can reach any host. On an internal network shared with the allowlisting egress "
              "proxy (`slm-deploy.io/component: egress-proxy`) it reaches only the model source's host names.",
    remediation="Attach model-prep services only to an internal network (`internal: true`) that the egress proxy "
                "also joins, point HTTPS_PROXY at the proxy, and let the proxy alone join the egress network; "
                "give steps that need no network `network_mode: none`.",
    benchmarks=(bench(CIS_DOCKER, "5.30"),),
    check=check,
    tags=("compose", "network", "model-prep"),
)
