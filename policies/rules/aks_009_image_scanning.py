"""A9: Defender for Containers scans images and watches the cluster."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import CIS_AKS, Rule, Severity, bench


def check(cluster, ctx):
    """Yield a violation when Defender security monitoring is off."""
    if get(cluster, "securityProfile", "defender", "securityMonitoring", "enabled") is not True:
        yield "securityProfile.defender.securityMonitoring.enabled must be true"
    if not get(cluster, "securityProfile", "defender", "logAnalyticsWorkspaceResourceId"):
        yield "securityProfile.defender.logAnalyticsWorkspaceResourceId must name a workspace"


RULE = Rule(
    id="slm-aks-009",
    name="Microsoft Defender for Containers monitors the AKS cluster and scans its images.",
    severity=Severity.LOW,
    controls=("A9",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="Runtime threat detection and registry scanning catch vulnerable or tampered serving images "
              "that pinning alone cannot; the ACR pull-only role assignment is checked in review, as it is a "
              "separate resource.",
    remediation="Set securityProfile.defender {logAnalyticsWorkspaceResourceId, securityMonitoring: {enabled: "
                "true}} and grant the kubelet identity AcrPull only.",
    benchmarks=(bench(CIS_AKS, "5.1.1", "5.1.2", "5.1.3", "5.1.4"),),
    check=check,
    tags=("aks", "supply-chain"),
)
