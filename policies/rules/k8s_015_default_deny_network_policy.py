"""K15: every namespace with workloads has a default-deny NetworkPolicy for ingress and egress."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, get, items, mapping
from slm_deploy.policies.model import CIS_K8S, NSA, TRIVY, Rule, Severity, bench


def _is_default_deny(policy) -> bool:
    """Whether a NetworkPolicy selects every pod and allows nothing in either direction."""
    spec = get(policy, "spec")
    if mapping(get(spec, "podSelector")).get("matchLabels") or items(get(spec, "podSelector", "matchExpressions")):
        return False
    types = {str(t) for t in items(get(spec, "policyTypes"))}
    return {"Ingress", "Egress"} <= types and not items(get(spec, "ingress")) and not items(get(spec, "egress"))


def check(resources, ctx):
    """Yield a violation per namespace whose workloads no default-deny policy covers."""
    covered = {get(r, "metadata", "namespace") for r in resources
               if get(r, "kind") == "NetworkPolicy" and _is_default_deny(r)}
    needing = sorted({str(get(r, "metadata", "namespace")) for r in resources if get(r, "kind") in WORKLOAD_KINDS})
    for namespace in needing:
        if namespace not in {str(c) for c in covered}:
            yield f"namespace {namespace} has workloads but no default-deny NetworkPolicy for Ingress and Egress"


RULE = Rule(
    id="slm-k8s-015",
    name="Every namespace that runs workloads has a default-deny NetworkPolicy for ingress and egress.",
    severity=Severity.HIGH,
    controls=("K15",),
    kinds=frozenset({"Bundle"}),
    scope="bundle",
    rationale="Without a default deny, any pod in the cluster can call the model server directly, bypassing "
              "the authenticating gateway, and a compromised server can reach anything.",
    remediation="Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules, then "
                "explicit allows: gateway to the model port, Prometheus to the metrics port, DNS egress.",
    benchmarks=(bench(CIS_K8S, "5.3.2"), bench(NSA, "2.0"), bench(TRIVY, "KSV-0038")),
    check=check,
    tags=("kubernetes", "network"),
)
