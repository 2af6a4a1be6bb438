"""K19: RBAC roles and bindings grant least privilege."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import CIS_K8S, TRIVY, Rule, Severity, bench

DANGEROUS_RESOURCES = frozenset({"pods/exec", "pods/attach", "nodes/proxy", "serviceaccounts/token"})
DANGEROUS_VERBS = frozenset({"bind", "escalate", "impersonate"})
READ_VERBS = frozenset({"get", "list", "watch", "*"})
UNNAMED_READ_VERBS = frozenset({"list", "watch", "*"})
"""Verbs resourceNames cannot narrow: they return every object of the resource."""
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
POWERFUL_ROLES = frozenset({"cluster-admin", "admin", "edit"})
FORBIDDEN_SUBJECTS = frozenset({"system:masters", "system:anonymous", "system:unauthenticated",
                                "system:authenticated"})


def _rules(manifest, ctx):
    """Violations for one Role or ClusterRole."""
    for index, rule in enumerate(items(manifest.get("rules"))):
        if not isinstance(rule, Mapping):
            continue
        verbs = {str(v) for v in items(rule.get("verbs"))}
        resources = {str(r) for r in items(rule.get("resources"))}
        where = f"rules[{index}]"
        if "*" in verbs:
            yield f"{where}.verbs contains the wildcard *"
        if "*" in resources:
            yield f"{where}.resources contains the wildcard *"
        if resources & DANGEROUS_RESOURCES:
            yield f"{where} grants exec, attach, node proxy or token creation"
        if verbs & DANGEROUS_VERBS:
            yield f"{where}.verbs contains bind, escalate or impersonate"
        if resources & RBAC_RESOURCES and verbs & WRITE_VERBS:
            yield f"{where} can create or change RBAC roles and bindings"
        if ctx.kind == "ClusterRole" and "secrets" in resources and verbs & READ_VERBS:
            yield f"{where} reads Secrets cluster-wide"
        elif "secrets" in resources and (verbs & UNNAMED_READ_VERBS or verbs & READ_VERBS and not items(rule.get("resourceNames"))):
            yield f"{where} reads every Secret of the namespace; grant get on the Secrets named in resourceNames"
        if ("pods" in resources or "deployments" in resources) and verbs & {"create", "*"} \
                and ctx.kind == "ClusterRole":
            yield f"{where} can create workloads cluster-wide"


def _binding(manifest, ctx):
    """Violations for one RoleBinding or ClusterRoleBinding."""
    if get(manifest, "roleRef", "name") in POWERFUL_ROLES:
        yield "roleRef binds cluster-admin, admin or edit"
    for index, subject in enumerate(items(manifest.get("subjects"))):
        if isinstance(subject, Mapping) and subject.get("name") in FORBIDDEN_SUBJECTS:
            yield f"subjects[{index}] binds a system-wide group or the anonymous user"
        if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount" \
                and subject.get("name") == "default":
            yield f"subjects[{index}] binds the default service account"


def check(manifest, ctx):
    """Yield violations for wildcard, escalating or over-broad RBAC."""
    if ctx.kind in ("Role", "ClusterRole"):
        yield from _rules(manifest, ctx)
    else:
        yield from _binding(manifest, ctx)


RULE = Rule(
    id="slm-k8s-019",
    name="RBAC roles and bindings grant least privilege: no wildcards, escalation verbs or powerful groups.",
    severity=Severity.HIGH,
    controls=("K19",),
    kinds=frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}),
    rationale="Wildcards, exec/attach, bind/escalate/impersonate and cluster-wide Secret reads each let one "
              "compromised workload take over the namespace or the cluster.",
    remediation="List explicit verbs and resources, keep Secret access namespaced and by resourceNames, and "
                "bind dedicated service accounts to dedicated roles.",
    benchmarks=(bench(CIS_K8S, "5.1.1", "5.1.2", "5.1.3", "5.1.4", "5.1.8", "5.1.13"),
                bench(TRIVY, "KSV-0041", "KSV-0044", "KSV-0045", "KSV-0046", "KSV-0047", "KSV-0050", "KSV-0053", "KSV-0111", "KSV-0112",
                      "KSV-0113", "KSV-0114", "KSV-0123")),
    check=check,
    tags=("kubernetes", "rbac"),
)
