"""Where pods' /run/secrets comes from: a projected Secret volume, or the Key Vault CSI driver through a
SecretProviderClass; plus the External Secrets stores and ExternalSecrets that fill those Secrets."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import MANAGED_BY, Manifest, bounded_name, meta
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.consistency import namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import backend_of, remote_key, store_of, vault_of
from slm_deploy.spec.secrets import (
    AwsSecretsManagerProvider, ExternalSecretStore, GoogleSecretManagerProvider, HashiCorpVaultProvider,
)

CSI_DRIVER = "secrets-store.csi.k8s.io"
SPC_API = "secrets-store.csi.x-k8s.io/v1"
ESO_API = "external-secrets.io/v1"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
"""Where workload identity reads the user-assigned identity's client id (on the ServiceAccount)."""
VAULT_DEFAULT_PROPERTY = "value"


def _secret_names(service: ServicePlan) -> list[str]:
    return sorted({f.secret for f in service.secret_files})


def key_vault_of(deployment: Deployment, service: ServicePlan) -> str | None:
    """The Key Vault a service's secrets come from (the spec checks guarantee one source per service)."""
    names = _secret_names(service)
    if names and backend_of(deployment.spec, names[0]) == "azure-key-vault":
        return vault_of(deployment.spec, names[0])
    return None


def provider_class_name(service: ServicePlan) -> str:
    """The SecretProviderClass of one service: it lists exactly that service's secrets."""
    return bounded_name(service.name, "secrets")


def secret_volume(deployment: Deployment, service: ServicePlan) -> dict[str, Any] | None:
    """The pod's `secrets` volume: the Key Vault CSI driver, or a projected volume of Kubernetes Secrets.
    Neither uses subPath, so rotated values reach the mounted files without a restart."""
    names = _secret_names(service)
    if not names:
        return None
    if key_vault_of(deployment, service):
        return {"name": "secrets", "csi": {"driver": CSI_DRIVER, "readOnly": True,
                                           "volumeAttributes": {"secretProviderClass": provider_class_name(service)}}}
    return {"name": "secrets", "projected": projected_secrets(names)}


def projected_secrets(names: list[str]) -> dict[str, Any]:
    """A projected volume of Kubernetes Secrets, each one key named like the secret, as files named alike."""
    return {"defaultMode": 0o440, "sources": [
        {"secret": {"name": name, "items": [{"key": name, "path": name}]}} for name in names]}


def _objects_parameter(deployment: Deployment, names: list[str]) -> str:
    """The provider's `objects` parameter: a YAML array of YAML documents, one per Key Vault secret (names are
    Key Vault names and DNS labels, so they need no quoting)."""
    lines = ["array:"]
    for name in names:
        lines += ["  - |", f"    objectName: {remote_key(deployment.spec, name)}", "    objectType: secret",
                  f"    objectAlias: {name}"]
    return "\n".join(lines) + "\n"


def secret_provider_class(deployment: Deployment, service: ServicePlan) -> Manifest:
    """Mount exactly this service's Key Vault secrets as files named like the secrets, with workload identity.
    `clientID` is the identity Pulumi creates (or the kustomization fills it from workload-identity.env)."""
    vault = vault_of(deployment.spec, _secret_names(service)[0])
    store = deployment.spec.secret_stores.azure_key_vaults[vault]
    return {
        "apiVersion": SPC_API, "kind": "SecretProviderClass",
        "metadata": meta(deployment, provider_class_name(service)),
        "spec": {"provider": "azure", "parameters": {
            "usePodIdentity": "false", "useVMManagedIdentity": "false", "keyvaultName": vault,
            "tenantId": store.tenant_id, "objects": _objects_parameter(deployment, _secret_names(service))}},
    }


def store_account_name(deployment: Deployment) -> str:
    """The ServiceAccount External Secrets authenticates to the remote vault as (no token is mounted anywhere)."""
    return bounded_name(deployment.spec.name, "secret-store")


def _store_kind(store: ExternalSecretStore) -> str:
    return "ClusterSecretStore" if store.scope == "cluster" else "SecretStore"


def _provider(deployment: Deployment, store: ExternalSecretStore) -> dict[str, Any]:
    account = {"name": store_account_name(deployment)}
    if store.scope == "cluster":
        account["namespace"] = namespace_of(deployment.spec)
    provider = store.provider
    if isinstance(provider, HashiCorpVaultProvider):
        body = {"server": provider.server, "path": provider.mount, "version": provider.version,
                "auth": {"kubernetes": {"mountPath": provider.auth_mount, "role": provider.role,
                                        "serviceAccountRef": account}}}
        if provider.namespace:
            body["namespace"] = provider.namespace
        return {"vault": body}
    if isinstance(provider, AwsSecretsManagerProvider):
        return {"aws": {"service": "SecretsManager", "region": provider.region,
                        "auth": {"jwt": {"serviceAccountRef": account}}}}
    if isinstance(provider, GoogleSecretManagerProvider):
        return {"gcpsm": {"projectID": provider.project_id,
                          "auth": {"workloadIdentity": {"serviceAccountRef": account}}}}
    raise ValueError("only a store with create: true is rendered, and the spec requires its provider")


def _account_annotations(deployment: Deployment, stores: list[ExternalSecretStore]) -> dict[str, str]:
    """Cloud identities the store's ServiceAccount federates with (IRSA, GKE workload identity)."""
    annotations = {}
    for store in stores:
        if isinstance(store.provider, AwsSecretsManagerProvider):
            annotations["eks.amazonaws.com/role-arn"] = store.provider.role_arn
        if isinstance(store.provider, GoogleSecretManagerProvider):
            annotations["iam.gke.io/gcp-service-account"] = store.provider.service_account
    return annotations


def _used_stores(deployment: Deployment, plan: RuntimePlan) -> dict[str, list[str]]:
    """External Secrets store name -> the secrets it serves that some service mounts."""
    spec = deployment.spec
    mounted = sorted({f.secret for s in plan.services for f in s.secret_files})
    found: dict[str, list[str]] = {}
    for name in mounted:
        if backend_of(spec, name) == "external-secrets":
            found.setdefault(store_of(spec, name), []).append(name)
    return found


def external_secret(deployment: Deployment, name: str) -> Manifest:
    """One ExternalSecret per secret: the Secret it owns has one key, named like the secret."""
    spec = deployment.spec
    ref = spec.secrets[name]
    store = spec.secret_stores.external_secrets[store_of(spec, name)]
    remote: dict[str, Any] = {"key": remote_key(spec, name)}
    prop = ref.property or (VAULT_DEFAULT_PROPERTY if store.provider and store.provider.kind == "hashicorp-vault"
                            else None)
    if prop:
        remote["property"] = prop
    return {
        "apiVersion": ESO_API, "kind": "ExternalSecret", "metadata": meta(deployment, name),
        "spec": {"refreshInterval": f"{store.refresh_interval_seconds}s",
                 "secretStoreRef": {"name": ref.store, "kind": _store_kind(store)},
                 "target": {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                 "data": [{"secretKey": name, "remoteRef": remote}]},
    }


def external_secrets_objects(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """The store ServiceAccount and stores slm-deploy creates, then one ExternalSecret per mounted secret."""
    stores = deployment.spec.secret_stores.external_secrets
    used = _used_stores(deployment, plan)
    created = [(name, stores[name]) for name in sorted(used) if stores[name].create]
    objects: list[Manifest] = []
    if created:
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": meta(deployment, store_account_name(deployment),
                                         annotations=_account_annotations(deployment, [s for _, s in created])
                                         or None),
                        "automountServiceAccountToken": False})
    for name, store in created:
        metadata = (meta(deployment, name) if store.scope == "namespace"
                    else {"name": name, "labels": dict(MANAGED_BY)})
        objects.append({"apiVersion": ESO_API, "kind": _store_kind(store), "metadata": metadata,
                        "spec": {"provider": _provider(deployment, store)}})
    return objects + [external_secret(deployment, name) for store in sorted(used) for name in used[store]]


def secret_source_objects(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """Every object that feeds a pod's /run/secrets from a store, in apply order."""
    classes = [secret_provider_class(deployment, s) for s in plan.services if key_vault_of(deployment, s)]
    return classes + external_secrets_objects(deployment, plan)


WORKLOAD_IDENTITY_ENV = "workload-identity.env"
"""The file (`clientID=<guid>`) an operator writes next to the kustomization when applying without Pulumi."""


def workload_identity_kustomization(deployment: Deployment, objects: list[Manifest]) -> dict[str, Any]:
    """Kustomize fields that copy the identity's client id from workload-identity.env into every
    SecretProviderClass and the workloads' ServiceAccount; nothing when no Key Vault is used."""
    if not any(o["kind"] == "SecretProviderClass" for o in objects):
        return {}
    source = bounded_name(deployment.spec.name, "workload-identity")
    return {
        "configMapGenerator": [{"name": source, "envs": [WORKLOAD_IDENTITY_ENV],
                                "options": {"disableNameSuffixHash": True}}],
        "replacements": [{
            "source": {"kind": "ConfigMap", "name": source, "fieldPath": "data.clientID"},
            "targets": [
                {"select": {"kind": "SecretProviderClass"}, "fieldPaths": ["spec.parameters.clientID"],
                 "options": {"create": True}},
                {"select": {"kind": "ServiceAccount", "name": deployment.spec.name},
                 "fieldPaths": [f"metadata.annotations.[{CLIENT_ID_ANNOTATION}]"], "options": {"create": True}},
            ],
        }],
    }
