"""Serving: every Ingress routes only to the API-key gateway."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, labels_of
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules.serving_002_gateway_auth import is_gateway


def _backends(ingress) -> list[str]:
    """Service names an Ingress routes to (default backend and every path)."""
    names = [get(ingress, "spec", "defaultBackend", "service", "name")]
    for rule in items(get(ingress, "spec", "rules")):
        for path in items(get(rule, "http", "paths")):
            names.append(get(path, "backend", "service", "name"))
    return [str(n) for n in names if n]


def check(resources, ctx):
    """Yield a violation per Ingress backend that is not a gateway Service."""
    gateways = {(str(get(r, "metadata", "namespace")), str(get(r, "metadata", "name"))) for r in resources
                if get(r, "kind") == "Service" and is_gateway(labels_of(r))}
    for resource in resources:
        if not isinstance(resource, Mapping) or get(resource, "kind") != "Ingress":
            continue
        namespace = str(get(resource, "metadata", "namespace"))
        for backend in _backends(resource):
            if (namespace, backend) not in gateways:
                yield f"Ingress {namespace}/{get(resource, 'metadata', 'name')} routes to a Service that is " \
                      "not the API-key gateway"
                break


RULE = Rule(
    id="slm-serving-010",
    name="Every Ingress routes only to the gateway Service that enforces API keys.",
    severity=Severity.CRITICAL,
    controls=("S-gateway-auth",),
    kinds=frozenset({"Bundle"}),
    scope="bundle",
    rationale="An Ingress pointing straight at a runtime publishes an unauthenticated model API on the "
              "internet.",
    remediation="Route Ingress paths to the gateway Service (labels slm-deploy.io/component: gateway, "
                "slm-deploy.io/auth: api-key) and keep runtimes behind it.",
    benchmarks=(),
    check=check,
    tags=("serving", "exposure", "authentication"),
)
