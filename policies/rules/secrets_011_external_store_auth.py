"""External Secrets stores authenticate with service account tokens, never with a stored credential."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, mapping
from slm_deploy.policies.model import CIS_K8S, Rule, Severity, bench

TOKEN_AUTH = {"vault": "kubernetes", "aws": "jwt", "gcpsm": "workloadIdentity"}
"""Per provider, the auth method that presents a projected service account token."""


def _stored_credentials(value, path):
    """Paths of every secretRef-style field (a long-lived credential kept in a Secret) under `value`."""
    if isinstance(value, Mapping):
        for key in sorted(str(k) for k in value.keys()):
            here = f"{path}.{key}"
            if key.lower().endswith("secretref"):
                yield here
            yield from _stored_credentials(value.get(key), here)


def check(store, ctx):
    """Yield violations for static credentials, a provider without token auth, or plain-HTTP Vault."""
    provider = mapping(get(store, "spec", "provider"))
    for name in sorted(str(k) for k in provider.keys()):
        auth = mapping(get(provider, name, "auth"))
        for path in _stored_credentials(auth, f"spec.provider.{name}.auth"):
            yield f"{path} authenticates with a credential stored in a Secret; use a service account token"
        expected = TOKEN_AUTH.get(name)
        if expected is None:
            yield f"spec.provider.{name} is not a provider slm-deploy reviews (vault, aws, gcpsm)"
        elif get(auth, expected, "serviceAccountRef", "name") is None:
            yield f"spec.provider.{name}.auth.{expected}.serviceAccountRef must name the store's service account"
        server = get(provider, name, "server")
        if isinstance(server, str) and not server.startswith("https://"):
            yield f"spec.provider.{name}.server must be an https URL"


RULE = Rule(
    id="slm-secrets-011",
    name="External Secrets stores authenticate with service account tokens over TLS.",
    severity=Severity.HIGH,
    controls=("ESO-store-auth",),
    kinds=frozenset({"SecretStore", "ClusterSecretStore"}),
    rationale="A store that logs in with a token or access key kept in a Secret turns one Kubernetes Secret into "
              "the key to every remote secret; short-lived service account tokens expire and are bound to the pod.",
    remediation="Use vault auth.kubernetes, aws auth.jwt or gcpsm auth.workloadIdentity with serviceAccountRef, "
                "and an https Vault server.",
    benchmarks=(bench(CIS_K8S, "5.4.2"),),
    check=check,
    tags=("external-secrets", "secrets", "identity"),
)
