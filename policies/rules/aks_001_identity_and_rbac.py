"""A1: Kubernetes RBAC with Entra ID and Azure RBAC, local accounts off."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import CIS_AKS, TRIVY, Rule, Severity, bench


def check(cluster, ctx):
    """Yield violations for missing RBAC, Entra integration or enabled local accounts."""
    if get(cluster, "enableRBAC") is not True:
        yield "enableRBAC must be true"
    if get(cluster, "aadProfile", "managed") is not True:
        yield "aadProfile.managed must be true (Entra ID integration)"
    if get(cluster, "aadProfile", "enableAzureRBAC") is not True:
        yield "aadProfile.enableAzureRBAC must be true"
    if get(cluster, "disableLocalAccounts") is not True:
        yield "disableLocalAccounts must be true"


RULE = Rule(
    id="slm-aks-001",
    name="The AKS cluster uses Kubernetes RBAC with Entra ID and Azure RBAC, and has local accounts disabled.",
    severity=Severity.HIGH,
    controls=("A1",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="The local admin kubeconfig is a static, unaudited cluster-admin credential; Entra ID with "
              "Azure RBAC ties every API call to an identity with conditional access.",
    remediation="Set enableRBAC: true, aadProfile: {managed: true, enableAzureRBAC: true} and "
                "disableLocalAccounts: true.",
    benchmarks=(bench(CIS_AKS, "5.5.1", "5.5.2"), bench(TRIVY, "AZU-0042")),
    check=check,
    tags=("aks", "identity"),
)
