"""A8: the Key Vault CSI add-on with rotation, and workload identity."""

from __future__ import annotations

from slm_deploy.policies.access import get, mapping
from slm_deploy.policies.model import CIS_AKS, Rule, Severity, bench
from slm_deploy.policies.rules._aks import addon


def check(cluster, ctx):
    """Yield violations for a missing CSI driver, rotation, OIDC issuer or workload identity."""
    csi = addon(cluster, "azureKeyvaultSecretsProvider", "azurekeyvaultsecretsprovider")
    if csi.get("enabled") is not True:
        yield "addonProfiles.azureKeyvaultSecretsProvider.enabled must be true"
    elif str(mapping(csi.get("config")).get("enableSecretRotation", "")).lower() != "true":
        yield "addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation must be \"true\""
    if get(cluster, "oidcIssuerProfile", "enabled") is not True:
        yield "oidcIssuerProfile.enabled must be true"
    if get(cluster, "securityProfile", "workloadIdentity", "enabled") is not True:
        yield "securityProfile.workloadIdentity.enabled must be true"


RULE = Rule(
    id="slm-aks-008",
    name="The AKS cluster mounts Key Vault secrets through the CSI driver with rotation and uses workload identity.",
    severity=Severity.MEDIUM,
    controls=("A8",),
    kinds=frozenset({"ManagedCluster"}),
    rationale="The CSI driver keeps secret values out of etcd and Kubernetes Secrets, rotation picks up "
              "re-issued keys, and workload identity replaces long-lived service-principal secrets.",
    remediation="Enable addonProfiles.azureKeyvaultSecretsProvider with config.enableSecretRotation \"true\", "
                "oidcIssuerProfile.enabled and securityProfile.workloadIdentity.enabled.",
    benchmarks=(bench(CIS_AKS, "5.2.1"),),
    check=check,
    tags=("aks", "secrets", "identity"),
)
