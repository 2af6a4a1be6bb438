"""A7: automatic upgrades, no public node IPs, legacy add-ons off, system pool reserved."""

from __future__ import annotations

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules._aks import addon, pools

CRITICAL_TAINT = "CriticalAddonsOnly=true:NoSchedule"


def check(manifest, ctx):
    """Yield violations for manual upgrades, public nodes, legacy add-ons and an untainted system pool."""
    if ctx.kind == "ManagedCluster":
        channel = get(manifest, "autoUpgradeProfile", "upgradeChannel")
        if channel in (None, "", "none"):
            yield "autoUpgradeProfile.upgradeChannel must be set (patch, stable, rapid or node-image)"
        for name in ("kubeDashboard", "httpApplicationRouting"):
            if addon(manifest, name).get("enabled") is True:
                yield f"addonProfiles.{name} must be disabled"
    for prefix, pool in pools(manifest, ctx.kind):
        if get(pool, "enableNodePublicIP") is True:
            yield f"{prefix}enableNodePublicIP must not be true"
        if get(pool, "mode") == "System" and CRITICAL_TAINT not in {str(t) for t in items(get(pool, "nodeTaints"))}:
            yield f"{prefix}nodeTaints must reserve the system pool with {CRITICAL_TAINT}"


RULE = Rule(
    id="slm-aks-007",
    name="The AKS cluster upgrades automatically, has no public node IPs or legacy add-ons, and reserves its system pool.",
    severity=Severity.MEDIUM,
    controls=("A7",),
    kinds=frozenset({"ManagedCluster", "AgentPool"}),
    rationale="Unpatched nodes, nodes with public IPs and the dashboard or HTTP routing add-ons are common "
              "entry points; GPU workloads on the system pool can starve cluster DNS and CNI.",
    remediation="Set autoUpgradeProfile.upgradeChannel (patch or stable), leave enableNodePublicIP false, "
                "keep kubeDashboard/httpApplicationRouting disabled and taint the system pool "
                "CriticalAddonsOnly=true:NoSchedule.",
    benchmarks=(bench(TRIVY, "AZU-0143", "AZU-0008", "AZU-0246", "AZU-0232"),),
    check=check,
    tags=("aks", "patching", "network"),
)
