"""Federated identity credentials trust exactly one Kubernetes service account."""

from __future__ import annotations

import re

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import CIS_AKS, Rule, Severity, bench

AUDIENCE = "api://AzureADTokenExchange"
SUBJECT = re.compile(r"^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


def check(credential, ctx):
    """Yield violations for a credential with a broad subject, a foreign audience or a plain-HTTP issuer."""
    if [str(a) for a in items(get(credential, "audiences"))] != [AUDIENCE]:
        yield f"audiences must be exactly [{AUDIENCE}]"
    subject = get(credential, "subject")
    if isinstance(subject, str) and not SUBJECT.match(subject):
        yield "subject must name one service account: system:serviceaccount:<namespace>:<name>"
    issuer = get(credential, "issuer")
    if isinstance(issuer, str) and not issuer.startswith("https://"):
        yield "issuer must be the cluster's https OIDC issuer URL"


RULE = Rule(
    id="slm-secrets-009",
    name="Workload identity federation trusts one service account of one cluster issuer.",
    severity=Severity.HIGH,
    controls=("KV-workload-identity",),
    kinds=frozenset({"FederatedIdentityCredential"}),
    rationale="The credential turns a Kubernetes token into an Azure identity; any other audience, a wildcard "
              "or a non-https issuer lets other tokens in.",
    remediation="Set audiences [api://AzureADTokenExchange], the cluster's oidcIssuerProfile.issuerURL as issuer "
                "and subject system:serviceaccount:<namespace>:<service account>.",
    benchmarks=(bench(CIS_AKS, "5.2.1"),),
    check=check,
    tags=("key-vault", "identity", "aks"),
)
