"""Serving: anything reachable from outside is the API-key gateway."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from slm_deploy.policies.access import get, items, labels_of
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._compose import services
from slm_deploy.policies.rules._serving import AUTH, COMPONENT, labels_list_to_map
from slm_deploy.policies.rules.compose_007_published_ports import _parse



def is_loopback(host: str) -> bool:
    """Whether a published port's host address is loopback, in any spelling (0:0::1, [::1], 127.0.0.2)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def is_gateway(labels: Mapping) -> bool:
    """Whether labels mark the authenticating gateway."""
    return labels.get(COMPONENT) == "gateway" and labels.get(AUTH) == "api-key"


def check(manifest, ctx):
    """Yield violations for exposed endpoints that are not the API-key gateway."""
    if ctx.kind == "Service":
        exposed = get(manifest, "spec", "type") in ("LoadBalancer", "NodePort") or \
            bool(items(get(manifest, "spec", "externalIPs")))
        if exposed and not is_gateway(labels_of(manifest)):
            yield "the Service is reachable from outside the cluster but is not the API-key gateway"
        return
    for path, service in services(manifest):
        published = [p for p in items(service.get("ports")) if not is_loopback(str(_parse(p)[0] or ""))]
        if published and not is_gateway(labels_list_to_map(service.get("labels"))):
            yield f"{path} publishes ports beyond loopback but is not the API-key gateway"


RULE = Rule(
    id="slm-serving-002",
    name="Every endpoint reachable from outside is the gateway, which enforces API-key authentication.",
    severity=Severity.CRITICAL,
    controls=("S-gateway-auth",),
    kinds=frozenset({"Service", "ComposeProject"}),
    rationale="Ollama and llama.cpp have no strong built-in authentication and vLLM's key check has known "
              "bypasses; the gateway is the one place keys, rate limits and quotas are enforced.",
    remediation="Expose only the gateway (labels slm-deploy.io/component: gateway and slm-deploy.io/auth: "
                "api-key) and keep runtimes on ClusterIP Services or loopback/internal networks.",
    benchmarks=(),
    check=check,
    tags=("serving", "exposure", "authentication"),
)
