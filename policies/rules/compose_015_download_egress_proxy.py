"""Compose: a model download has no route out of its own; it reaches the hub only through the egress proxy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, is_egress_proxy, is_model_prep, services

OFFLINE = "none"


def _attached(service) -> list[str]:
    """Networks a service joins (list or mapping syntax); the implicit default network when none."""
    networks = service.get("networks")
    if isinstance(networks, Mapping):
        return sorted(str(k) for k in networks.keys())
    return [str(n) for n in items(networks)] or ["default"]


def _download_networks(project) -> set[str]:
    """The networks model downloads join: each is theirs and the egress proxy's alone."""
    return {name for _, service in services(project) if is_model_prep(service) and service.get("network_mode") is None
            for name in _attached(service)}


def _proxy_reach(project) -> Iterator[str]:
    """Violations of the proxy's isolation: only downloads share its download networks, and its one other network
    (the way out) is its own."""
    downloads = _download_networks(project)
    proxies = {path for path, service in services(project) if is_egress_proxy(service)}
    for path, service in services(project):
        if path in proxies:
            outward = [name for name in _attached(service) if name not in downloads]
            if len(outward) > 1:
                yield f"{path} is the egress proxy but joins {len(outward)} networks besides the download " \
                      "networks; it needs one way out"
            continue
        if is_model_prep(service):
            continue
        for name in _attached(service):
            if name in downloads:
                yield f"{path} joins the download network {name}, where the egress proxy lets it reach the hub"
            elif any(name in _attached(s) for p, s in services(project) if p in proxies):
                yield f"{path} shares network {name} with the egress proxy, which lets it reach the hub"


def check(project, ctx):
    """Yield a violation per model-preparation service that joins a network with a route out, or shares another
    container's or the host's network, and per other service that can reach the egress proxy."""
    yield from _proxy_reach(project)
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
              "proxy (`slm-deploy.io/component: egress-proxy`) it reaches only the model source's host names. The hub accepts uploads with any account's token, so "
              "no other service may share the download network or the proxy's way out, and the proxy has one "
              "network besides the download networks.",
    remediation="Attach model-prep services only to an internal network (`internal: true`) that the egress proxy "
                "also joins, point HTTPS_PROXY at the proxy, and let the proxy alone join the egress network; "
                "give steps that need no network `network_mode: none`.",
    benchmarks=(bench(CIS_DOCKER, "5.30"),),
    check=check,
    tags=("compose", "network", "model-prep"),
)
