"""Rendered bundles never contain secret values."""

from __future__ import annotations

from slm_deploy.policies.access import get, mapping
from slm_deploy.policies.model import CIS_K8S, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation when a Secret or a Compose secret carries its value inline."""
    if ctx.kind == "ComposeProject":
        for index, name in enumerate(sorted(str(k) for k in mapping(manifest.get("secrets")).keys())):
            entry = mapping(mapping(manifest.get("secrets")).get(name))
            if "environment" in entry or "content" in entry:
                yield f"secrets entry {index} takes its value from the environment or inline content; use file"
        return
    for section in ("data", "stringData"):
        if any(True for _ in mapping(get(manifest, section)).keys()):
            yield f"{section} carries secret values in the bundle; supply them from a secret store"


RULE = Rule(
    id="slm-secrets-006",
    name="Bundles never carry secret values: Secrets and Compose secrets come from a store or a file.",
    severity=Severity.CRITICAL,
    controls=("secret-store",),
    kinds=frozenset({"Secret", "ComposeProject"}),
    crossguard=False,
    rationale="A bundle is committed, copied and attached to tickets; a secret value in it is leaked the "
              "moment it is written.",
    remediation="Declare the secret by name in the spec and let a store supply it (Key Vault CSI, External "
                "Secrets, a Pulumi secret, or a Compose `file:` outside the bundle).",
    benchmarks=(bench(CIS_K8S, "5.4.2"),),
    check=check,
    tags=("secrets",),
)
