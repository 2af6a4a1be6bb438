"""Key Vault: soft delete and purge protection."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench


def check(vault, ctx):
    """Yield violations for a vault whose contents can be destroyed irrecoverably."""
    if get(vault, "properties", "enablePurgeProtection") is not True:
        yield "properties.enablePurgeProtection must be true"
    if get(vault, "properties", "enableSoftDelete") is False:
        yield "properties.enableSoftDelete must not be false"


RULE = Rule(
    id="slm-secrets-001",
    name="Key Vaults keep soft delete on and purge protection enabled.",
    severity=Severity.MEDIUM,
    controls=("KV-recovery",),
    kinds=frozenset({"Vault"}),
    rationale="Without purge protection a stolen credential can delete the vault's keys and secrets for "
              "good, taking every deployment that mounts them down with it.",
    remediation="Set properties.enablePurgeProtection: true and leave enableSoftDelete unset or true.",
    benchmarks=(bench(TRIVY, "AZU-0016"),),
    check=check,
    tags=("key-vault", "secrets"),
)
