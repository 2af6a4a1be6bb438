"""K20: no LoadBalancer, NodePort or externalIPs unless opted in; TLS on every Ingress."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import annotations_of, get, items
from slm_deploy.policies.model import TRIVY, Option, Rule, Severity, bench

OPT_IN = "slm-deploy.io/public"


def _ingress(manifest):
    """Violations for an Ingress whose hosts are not all covered by TLS."""
    tls_hosts = {str(h) for entry in items(get(manifest, "spec", "tls")) if isinstance(entry, Mapping)
                 for h in items(entry.get("hosts"))}
    rules = [r for r in items(get(manifest, "spec", "rules")) if isinstance(r, Mapping)]
    if not tls_hosts:
        yield "spec.tls must terminate TLS for the Ingress"
        return
    for index, rule in enumerate(rules):
        if rule.get("host") not in tls_hosts:
            yield f"spec.rules[{index}].host is not covered by spec.tls"


def check(manifest, ctx):
    """Yield violations for public Services without an explicit opt-in and Ingresses without TLS."""
    if ctx.kind == "Ingress":
        yield from _ingress(manifest)
        return
    opted_in = str(annotations_of(manifest).get(OPT_IN, "")).lower() == "true" or ctx.get("allowPublicServices")
    if opted_in:
        return
    if get(manifest, "spec", "type") in ("LoadBalancer", "NodePort"):
        yield "spec.type publishes the Service outside the cluster; use ClusterIP behind the ingress"
    if items(get(manifest, "spec", "externalIPs")):
        yield "spec.externalIPs publishes the Service on external addresses"


RULE = Rule(
    id="slm-k8s-020",
    name="Services stay inside the cluster unless explicitly opted in, and every Ingress terminates TLS.",
    severity=Severity.HIGH,
    controls=("K20",),
    kinds=frozenset({"Service", "Ingress"}),
    rationale="A LoadBalancer or NodePort puts the model API on the internet next to the gateway, and an "
              "Ingress without TLS sends API keys in clear text.",
    remediation="Use ClusterIP Services and one Ingress with spec.tls for the gateway; annotate a Service "
                "slm-deploy.io/public: \"true\" only when the spec asks for it.",
    benchmarks=(bench(TRIVY, "KSV-0108"),),
    check=check,
    tags=("kubernetes", "network", "exposure"),
    options=(Option("allowPublicServices", {"type": "boolean", "default": False},
                    "Accept LoadBalancer/NodePort Services without the opt-in annotation."),),
)
