"""A2: the API server is private or limited to authorised ranges."""

from __future__ import annotations

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import CIS_AKS, TRIVY, Rule, Severity, bench

OPEN_RANGES = frozenset({"0.0.0.0/0", "::/0", "*"})


def check(cluster, ctx):
    """Yield a violation when the API server is reachable from anywhere."""
    profile = get(cluster, "apiServerAccessProfile")
    ranges = [str(r) for r in items(get(profile, "authorizedIPRanges"))]
    if any(r in OPEN_RANGES for r in ranges):
        yield "apiServerAccessProfile.authorizedIPRanges admits every address"
    elif get(profile, "enablePrivateCluster") is not True and not ranges:
        yield "apiServerAccessProfile must enable the private cluster or list authorizedIPRanges"


RULE = Rule(
    id="slm-aks-002",
    name="The AKS API server is private or restricted to authorised IP ranges.",
    severity=Severity.CRITICAL,
    controls=("A2",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="A public API server is one leaked credential or one API-server CVE away from cluster "
              "compromise.",
    remediation="Set apiServerAccessProfile.enablePrivateCluster: true, or list the operators' CIDRs in "
                "apiServerAccessProfile.authorizedIPRanges.",
    benchmarks=(bench(CIS_AKS, "5.4.1", "5.4.2"), bench(TRIVY, "AZU-0041", "AZU-0065")),
    check=check,
    tags=("aks", "network"),
)
