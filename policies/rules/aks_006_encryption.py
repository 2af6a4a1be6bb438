"""A6: KMS etcd encryption, a disk encryption set and encryption at host."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import CIS_AKS, TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules._aks import pools


def check(manifest, ctx):
    """Yield violations for unencrypted etcd secrets, OS disks or host caches."""
    if ctx.kind == "ManagedCluster":
        if get(manifest, "securityProfile", "azureKeyVaultKms", "enabled") is not True:
            yield "securityProfile.azureKeyVaultKms.enabled must be true"
        if not get(manifest, "diskEncryptionSetID"):
            yield "diskEncryptionSetID must name a customer-managed disk encryption set"
    for prefix, pool in pools(manifest, ctx.kind):
        if get(pool, "enableEncryptionAtHost") is not True:
            yield f"{prefix}enableEncryptionAtHost must be true"


RULE = Rule(
    id="slm-aks-006",
    name="Secrets in etcd, node disks and host caches are encrypted with customer-managed keys.",
    severity=Severity.HIGH,
    controls=("A6",),
    kinds=frozenset({"ManagedCluster", "AgentPool"}),
    rationale="Model-serving clusters hold API keys and hub tokens; KMS encryption keeps them unreadable in "
              "etcd backups, and host encryption covers temp disks where weights are cached.",
    remediation="Set securityProfile.azureKeyVaultKms {enabled: true, keyId}, diskEncryptionSetID, and "
                "enableEncryptionAtHost: true on every pool.",
    benchmarks=(bench(CIS_AKS, "5.3.1"), bench(TRIVY, "AZU-0067")),
    check=check,
    tags=("aks", "encryption"),
)
