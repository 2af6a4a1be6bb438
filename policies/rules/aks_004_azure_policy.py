"""A4: the Azure Policy add-on is enabled."""

from __future__ import annotations

from slm_deploy.policies.model import TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules._aks import addon


def check(cluster, ctx):
    """Yield a violation when the Azure Policy add-on is off."""
    if addon(cluster, "azurepolicy").get("enabled") is not True:
        yield "addonProfiles.azurepolicy.enabled must be true"


RULE = Rule(
    id="slm-aks-004",
    name="The AKS cluster runs the Azure Policy add-on.",
    severity=Severity.MEDIUM,
    controls=("A4",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="Azure Policy for AKS audits and enforces pod security and image provenance cluster-wide, "
              "independently of what any one deployment renders.",
    remediation="Set addonProfiles.azurepolicy: {enabled: true}.",
    benchmarks=(bench(TRIVY, "AZU-0066"),),
    check=check,
    tags=("aks", "governance"),
)
