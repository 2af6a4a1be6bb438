"""Key Vault: Azure RBAC authorisation instead of access policies."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import Rule, Severity


def check(vault, ctx):
    """Yield a violation when the vault uses legacy access policies."""
    if get(vault, "properties", "enableRbacAuthorization") is not True:
        yield "properties.enableRbacAuthorization must be true"


RULE = Rule(
    id="slm-secrets-003",
    name="Key Vaults authorise data access with Azure RBAC.",
    severity=Severity.MEDIUM,
    controls=("KV-rbac",),
    kinds=frozenset({"Vault"}),
    rationale="Access policies grant vault-wide rights outside Azure's role model; RBAC scopes each "
              "workload identity to the secrets it mounts and is audited centrally.",
    remediation="Set properties.enableRbacAuthorization: true and grant the workload identity "
                "Key Vault Secrets User on the individual secrets.",
    benchmarks=(),
    check=check,
    tags=("key-vault", "identity"),
)
