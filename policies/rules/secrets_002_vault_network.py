"""Key Vault: not reachable from the public internet."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench


def check(vault, ctx):
    """Yield a violation when the vault accepts traffic from any network."""
    props = get(vault, "properties")
    disabled = str(get(props, "publicNetworkAccess") or "").lower() == "disabled"
    deny = str(get(props, "networkAcls", "defaultAction") or "").lower() == "deny"
    if not (disabled or deny):
        yield "properties.networkAcls.defaultAction must be Deny or publicNetworkAccess Disabled"


RULE = Rule(
    id="slm-secrets-002",
    name="Key Vaults deny public network access by default.",
    severity=Severity.CRITICAL,
    controls=("KV-network",),
    kinds=frozenset({"Vault"}),
    rationale="A vault open to every network can be brute-forced or abused with a leaked token from "
              "anywhere; the cluster reaches it over a private endpoint or allowed subnets.",
    remediation="Set properties.networkAcls.defaultAction: Deny (with bypass AzureServices and the cluster "
                "subnet allowed) or properties.publicNetworkAccess: Disabled with a private endpoint.",
    benchmarks=(bench(TRIVY, "AZU-0013"),),
    check=check,
    tags=("key-vault", "network"),
)
