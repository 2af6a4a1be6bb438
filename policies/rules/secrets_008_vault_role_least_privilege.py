"""Role assignments on Key Vault content grant read access to single secrets only."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import Rule, Severity

SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"
"""Key Vault Secrets User: get secret contents, nothing else."""


def check(assignment, ctx):
    """Yield violations for an assignment on a vault that is broader than reading one secret."""
    scope = get(assignment, "scope")
    if not isinstance(scope, str) or "/providers/microsoft.keyvault/vaults/" not in scope.lower():
        return
    role = str(get(assignment, "roleDefinitionId") or "")
    if not role.lower().endswith(f"/{SECRETS_USER_ROLE}"):
        yield "roleDefinitionId must be Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6)"
    if "/secrets/" not in scope.lower():
        yield "scope must be one secret (<vault id>/secrets/<name>), not the whole vault"


RULE = Rule(
    id="slm-secrets-008",
    name="Workload identities read single Key Vault secrets with Key Vault Secrets User only.",
    severity=Severity.HIGH,
    controls=("KV-least-privilege",),
    kinds=frozenset({"RoleAssignment"}),
    rationale="A pod's identity is a credential anyone who runs code in the pod holds; scoped to the secrets it "
              "mounts and to reading them, a compromise leaks those secrets and cannot change or list others.",
    remediation="Assign role 4633458b-17de-408a-b874-0445c86b69e6 (Key Vault Secrets User) at "
                "<vault id>/secrets/<name> for each secret the workload mounts.",
    benchmarks=(),
    check=check,
    tags=("key-vault", "identity"),
)
