"""The secret model: each secret has a name, a purpose with one file format, and a backend that stores it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.fields import Cidr, DnsLabel, HttpsUrl

VaultName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z](-?[A-Za-z0-9]){2,23}$", max_length=24)]
"""An Azure Key Vault name: 3-24 letters, digits and single hyphens, starting with a letter, ending with a letter or
digit."""
RemoteKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._+=@-]+(/[A-Za-z0-9._+=@-]+)*$", max_length=512)]
"""A key in a remote store; `/` separates path segments where the backend has paths (Vault, AWS)."""
Guid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")]
ResourceGroup = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._()-]{1,90}$")]
PathSegments = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", max_length=256)]

Backend = Literal["file", "kubernetes", "azure-key-vault", "external-secrets"]
SECRET_OBJECT_BACKENDS = ("kubernetes", "external-secrets")
"""Backends whose value reaches the pod through a Kubernetes Secret (mounted as a projected volume)."""


class Purpose(str, Enum):
    """What a secret is for; each purpose has exactly one file format, the same for every runtime."""

    MODEL_HUB_TOKEN = "model-hub-token"
    GATEWAY_API_KEYS = "gateway-api-keys"
    GATEWAY_CLIENT_KEY = "gateway-client-key"
    OPEN_WEBUI_SECRET_KEY = "open-webui-secret-key"
    GRAFANA_ADMIN = "grafana-admin"
    ALERTMANAGER_RECEIVER = "alertmanager-receiver"


@dataclass(frozen=True)
class PurposeFormat:
    """The file a purpose's consumer reads, how to make one, and what rotating it takes."""

    file_format: str
    content_type: str
    """Key Vault contentType: says what the secret is without reading it."""
    rotation: str


PURPOSES: dict[Purpose, PurposeFormat] = {
    Purpose.MODEL_HUB_TOKEN: PurposeFormat(
        "the Hugging Face access token alone (one line, e.g. hf_...)", "text/plain; model-hub-token",
        "read each time model preparation runs; a rotated token is used by the next download, nothing restarts"),
    Purpose.GATEWAY_API_KEYS: PurposeFormat(
        "one `key_id:key` per line: ids of at most 31 letters, digits, `_`, `.` or `-`; keys of 32+ visible characters without `:` (`openssl rand -hex 24`); `#` starts a comment",
        "text/plain; gateway-api-keys",
        "the gateway re-reads the file when it changes (mounted volumes update in place): no restart"),
    Purpose.GATEWAY_CLIENT_KEY: PurposeFormat(
        "one gateway API key alone (the same key as its `key_id:key` line in the gateway's key file)",
        "text/plain; gateway-client-key",
        "read when the client starts: add the new key to the gateway's file, restart the client, then remove "
        "the old line"),
    Purpose.OPEN_WEBUI_SECRET_KEY: PurposeFormat(
        "a long random string alone (`openssl rand -hex 32`), which signs Open WebUI sessions",
        "text/plain; open-webui-secret-key",
        "read when Open WebUI starts: restart it; signed-in users sign in again"),
    Purpose.GRAFANA_ADMIN: PurposeFormat(
        "the Grafana admin password alone (grafana.ini reads the file through `$__file{}`)",
        "text/plain; grafana-admin",
        "Grafana applies it when it creates its database; afterwards rotate with `grafana cli admin "
        "reset-admin-password` and update the secret to match"),
    Purpose.ALERTMANAGER_RECEIVER: PurposeFormat(
        "the receiver credential alone (a webhook URL or a token), read through a `*_file` setting",
        "text/plain; alertmanager-receiver",
        "Alertmanager reads it on configuration load: reload it (POST /-/reload) after rotation"),
}


class SecretRef(SpecModel):
    """Where a secret comes from; the value itself never appears in the spec."""

    backend: Backend | None = None
    """Where Kubernetes gets the value: kubernetes (a Secret Pulumi creates from `pulumi config set --secret`),
    azure-key-vault (Secrets Store CSI driver) or external-secrets (External Secrets Operator). `file` is for
    deployments without Kubernetes. Compose always reads compose/secrets/<name>. Default: kubernetes with a
    Kubernetes target, file without."""
    purpose: Purpose | None = None
    """What the secret is for; defaults to the purpose of the field that names it, and must match it."""
    key: RemoteKey | None = None
    """Name in the store (Key Vault secret name, remote key path such as llm/phi4/api-keys); default: the name."""
    property: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+$", max_length=253)] | None = None
    """Field inside a structured remote secret (external-secrets; HashiCorp Vault defaults to `value`)."""
    vault: VaultName | None = None
    """Azure Key Vault holding it (azure-key-vault); declared under secret_stores.azure_key_vaults."""
    store: DnsLabel | None = None
    """External Secrets store serving it (external-secrets); declared under secret_stores.external_secrets."""


class AzureKeyVault(SpecModel):
    """An Azure Key Vault the secrets are mounted from through the Secrets Store CSI driver."""

    create: bool = True
    """Pulumi creates the vault (hardened) and its secrets, named like this entry with a 6-hex suffix per stack and
    component (Key Vault names are global); false references an existing vault by this exact name."""
    tenant_id: Guid
    """Entra ID tenant of the vault (the SecretProviderClass names it)."""
    resource_group: ResourceGroup | None = None
    """The vault's resource group; default (create: true): the AKS cluster's group. Required for an existing vault."""
    allowed_ip_ranges: list[Cidr] = Field(default_factory=list)
    """Public networks the vault's firewall admits (AKS nodes reach it through trusted services or these ranges);
    empty turns public network access off."""
    secrets_expire_on: datetime.date | None = None
    """Expiry of the secrets Pulumi writes (create: true); the date forces a rotation review."""
    soft_delete_retention_days: int = Field(default=90, ge=7, le=90)


class HashiCorpVaultProvider(SpecModel):
    """HashiCorp Vault's KV engine, authenticated with the store's Kubernetes service account token."""

    kind: Literal["hashicorp-vault"]
    server: HttpsUrl
    mount: PathSegments = "secret"
    """KV engine mount path."""
    version: Literal["v1", "v2"] = "v2"
    role: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+$", max_length=128)]
    """Vault role bound to the store's service account in Vault's Kubernetes auth method."""
    auth_mount: PathSegments = "kubernetes"
    namespace: PathSegments | None = None
    """Vault Enterprise namespace."""


class AwsSecretsManagerProvider(SpecModel):
    """AWS Secrets Manager, authenticated through IAM roles for service accounts."""

    kind: Literal["aws-secrets-manager"]
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]
    role_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")]
    """IAM role the store's service account assumes (annotation eks.amazonaws.com/role-arn)."""


class GoogleSecretManagerProvider(SpecModel):
    """Google Secret Manager, authenticated through GKE workload identity."""

    kind: Literal["google-secret-manager"]
    project_id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    service_account: Annotated[str, StringConstraints(
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$")]
    """Google service account the store's Kubernetes service account acts as (annotation iam.gke.io/gcp-service-account)."""


ExternalProvider = Annotated[
    HashiCorpVaultProvider | AwsSecretsManagerProvider | GoogleSecretManagerProvider, Field(discriminator="kind")
]


class ExternalSecretStore(SpecModel):
    """An External Secrets Operator store: rendered here (create: true) or one the platform already runs."""

    scope: Literal["namespace", "cluster"] = "namespace"
    """namespace: a SecretStore in the deployment's namespace; cluster: a ClusterSecretStore."""
    create: bool = True
    provider: ExternalProvider | None = None
    """The vault behind the store; required when create is true, and only then."""
    refresh_interval_seconds: int = Field(default=300, ge=60, le=86_400)
    """How often ExternalSecrets re-read the remote value (rotation reaches the pods after this and the kubelet sync)."""


class SecretStores(SpecModel):
    """The stores secrets are kept in, by name."""

    azure_key_vaults: dict[VaultName, AzureKeyVault] = Field(default_factory=dict)
    external_secrets: dict[DnsLabel, ExternalSecretStore] = Field(default_factory=dict)
