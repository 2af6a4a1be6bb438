"""Key Vault keys carry an expiry."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench


def check(key, ctx):
    """Yield a violation for a key without expiry."""
    if get(key, "properties", "attributes", "expires") in (None, ""):
        yield "properties.attributes.expires must set an expiry"


RULE = Rule(
    id="slm-secrets-005",
    name="Key Vault keys carry an expiry date.",
    severity=Severity.LOW,
    controls=("KV-key-expiry",),
    kinds=frozenset({"KeyVaultKey"}),
    rationale="Keys used for KMS etcd encryption or signing must rotate; an expiry forces the rotation to be "
              "planned.",
    remediation="Set properties.attributes.expires (ARM: exp) and a rotation policy on the key.",
    benchmarks=(bench(TRIVY, "AZU-0014"),),
    check=check,
    tags=("key-vault", "rotation"),
)
