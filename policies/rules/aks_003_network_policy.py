"""A3: a network policy engine is installed."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import CIS_AKS, TRIVY, Rule, Severity, bench

ENGINES = frozenset({"azure", "calico", "cilium"})


def check(cluster, ctx):
    """Yield a violation when NetworkPolicy objects would not be enforced."""
    if str(get(cluster, "networkProfile", "networkPolicy") or "").lower() not in ENGINES:
        yield "networkProfile.networkPolicy must be azure, calico or cilium"


RULE = Rule(
    id="slm-aks-003",
    name="The AKS cluster enforces NetworkPolicy with the azure, calico or cilium engine.",
    severity=Severity.HIGH,
    controls=("A3",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="Without a policy engine the default-deny NetworkPolicies this project renders are accepted "
              "by the API server and silently ignored.",
    remediation="Set networkProfile.networkPolicy to cilium (with networkDataplane cilium), azure or calico.",
    benchmarks=(bench(CIS_AKS, "5.4.4"), bench(TRIVY, "AZU-0043")),
    check=check,
    tags=("aks", "network"),
)
