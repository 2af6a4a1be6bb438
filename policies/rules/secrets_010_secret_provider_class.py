"""SecretProviderClasses mount Key Vault secrets as files with workload identity, never synced to Secrets."""

from __future__ import annotations

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import Rule, Severity


def check(provider_class, ctx):
    """Yield violations for node or pod-identity access and for copies into Kubernetes Secrets."""
    parameters = mapping(get(provider_class, "spec", "parameters"))
    for field in ("usePodIdentity", "useVMManagedIdentity"):
        if str(parameters.get(field, "false")).lower() != "false":
            yield f"spec.parameters.{field} must be \"false\"; use workload identity (clientID)"
    if not parameters.get("tenantId"):
        yield "spec.parameters.tenantId must name the vault's tenant"
    if items(get(provider_class, "spec", "secretObjects")):
        yield "spec.secretObjects copies the values into Kubernetes Secrets; mount the files only"


RULE = Rule(
    id="slm-secrets-010",
    name="Key Vault secrets reach pods as CSI-mounted files through workload identity only.",
    severity=Severity.HIGH,
    controls=("KV-csi-mount",),
    kinds=frozenset({"SecretProviderClass"}),
    rationale="The node's managed identity is shared by every pod on the node and pod identity is retired; "
              "syncing to a Kubernetes Secret puts the value in etcd, where the CSI driver was meant to keep it out.",
    remediation="Set usePodIdentity and useVMManagedIdentity to \"false\", clientID to the workload identity, "
                "tenantId, and leave secretObjects unset.",
    benchmarks=(),
    check=check,
    tags=("key-vault", "secrets", "kubernetes"),
)
