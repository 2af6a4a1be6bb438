"""K15: every namespace with workloads has a default-deny NetworkPolicy, and no allow rule reopens it to every pod."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, get, items, mapping
from slm_deploy.policies.model import CIS_K8S, NSA, TRIVY, Rule, Severity, bench


def _is_default_deny(policy) -> bool:
    """Whether a NetworkPolicy selects every pod and allows nothing in either direction."""
    spec = get(policy, "spec")
    if mapping(get(spec, "podSelector")).get("matchLabels") or items(get(spec, "podSelector", "matchExpressions")):
        return False
    types = {str(t) for t in items(get(spec, "policyTypes"))}
    return {"Ingress", "Egress"} <= types and not items(get(spec, "ingress")) and not items(get(spec, "egress"))


OPEN_INGRESS_COMPONENTS = frozenset({"gateway"})
"""Pods any namespace may reach: the authenticating gateway, which `internal` exposure opens to the cluster."""


def _selects_anything(selector) -> bool:
    """Whether a label selector is present and empty (it matches every namespace or pod)."""
    return isinstance(selector, Mapping) and not selector.get("matchLabels") and not items(selector.get("matchExpressions"))


def _open_peers(rule, key: str) -> bool:
    """Whether an allow rule admits pods of every namespace: no peers, or a peer in any namespace (pod labels
    there are set by whoever runs the pod, so a podSelector beside it narrows nothing)."""
    peers = items(get(rule, key))
    return not peers or any(_selects_anything(get(peer, "namespaceSelector")) for peer in peers)


def _reopened(policy):
    """Violations for allow rules of one NetworkPolicy that let every namespace in or every destination out."""
    name = get(policy, "metadata", "name")
    component = mapping(get(policy, "spec", "podSelector", "matchLabels")).get("app.kubernetes.io/component")
    for index, rule in enumerate(items(get(policy, "spec", "ingress"))):
        if _open_peers(rule, "from") and component not in OPEN_INGRESS_COMPONENTS:
            yield f"NetworkPolicy {name}: ingress[{index}] admits pods of every namespace, not only the gateway's"
    for index, rule in enumerate(items(get(policy, "spec", "egress"))):
        if _open_peers(rule, "to"):
            yield f"NetworkPolicy {name}: egress[{index}] reaches pods of every namespace"


def check(resources, ctx):
    """Yield a violation per namespace whose workloads no default-deny policy covers, and per reopening rule."""
    for policy in resources:
        if get(policy, "kind") == "NetworkPolicy":
            yield from _reopened(policy)
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
