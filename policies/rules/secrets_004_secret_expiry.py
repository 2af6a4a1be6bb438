"""Key Vault secrets carry an expiry and a content type."""

from __future__ import annotations

from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench


def check(secret, ctx):
    """Yield violations for secrets without expiry or content type."""
    if get(secret, "properties", "attributes", "expires") in (None, ""):
        yield "properties.attributes.expires must set an expiry"
    if not get(secret, "properties", "contentType"):
        yield "properties.contentType must describe the secret"


RULE = Rule(
    id="slm-secrets-004",
    name="Key Vault secrets carry an expiry date and a content type.",
    severity=Severity.LOW,
    controls=("KV-secret-expiry",),
    kinds=frozenset({"KeyVaultSecret"}),
    rationale="Secrets without expiry are never rotated, and a content type tells operators and scanners "
              "what a secret is without reading its value.",
    remediation="Set properties.attributes.expires (epoch seconds; ARM calls it exp) and properties.contentType (e.g. "
                "text/plain; api-keys).",
    benchmarks=(bench(TRIVY, "AZU-0017", "AZU-0015"),),
    check=check,
    tags=("key-vault", "rotation"),
)
