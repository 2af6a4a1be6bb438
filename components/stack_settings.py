"""Operator settings a stack needs beyond the spec: credentials, local paths, platform resource ids."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import pulumi

from slm_deploy.errors import Problem, SpecError
from slm_deploy.render.kubernetes.cert_manager import LETSENCRYPT_PRODUCTION

DEFAULT_PLATFORMS = ("linux/amd64",)
KUBELOGIN_MODES = ("azurecli", "workloadidentity", "msi", "spn", "devicecode", "interactive", "azd")


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for pushing built images; the password stays a Pulumi secret."""

    username: str
    password: pulumi.Input[str]


@dataclass(frozen=True)
class AksEncryption:
    """Customer-managed-key resources the platform team provides (A6): etcd KMS, disks, cluster identity."""

    kms_key_id: str
    key_vault_resource_id: str
    disk_encryption_set_id: str
    identity_id: str
    """A user-assigned identity holding Key Vault Crypto User on the vault; KMS refuses system identities."""


class AksEncryptionArgs(TypedDict):
    """Customer-managed-key resources the platform team provides: etcd KMS, disks, cluster identity."""

    kms_key_id: str
    key_vault_resource_id: str
    disk_encryption_set_id: str
    identity_id: str


@dataclass(frozen=True)
class StackSettings:
    """Everything read from the stack's `slm-deploy:*` config keys other than the deployment itself."""

    work_dir: Path | None = None
    """Where build contexts are written; needed only when the spec builds images."""
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    registry_login: RegistryLogin | None = None
    ca_bundle: pulumi.Input[str] | None = None
    kubelogin_mode: str = "azurecli"
    aks_encryption: AksEncryption | None = None
    admin_group_object_ids: tuple[str, ...] = field(default_factory=tuple)
    acr_resource_group: str | None = None
    """Resource group of the Azure Container Registry targets.docker.registry names; default: the cluster's."""
    acme_server: str = LETSENCRYPT_PRODUCTION
    """ACME directory the ClusterIssuer registers with (Let's Encrypt staging while testing)."""
    acme_email: str | None = None
    """Contact for certificate expiry notices; ACME accounts need none."""
    secret_values: Mapping[str, pulumi.Input[str]] | None = None
    """Secret values by config key (secret-<name>); None reads slm-deploy:secret-<name> (set with --secret)."""


def _encryption(raw: object) -> AksEncryption | None:
    if raw is None:
        return None
    keys = {"kmsKeyId": "kms_key_id", "keyVaultResourceId": "key_vault_resource_id",
            "diskEncryptionSetId": "disk_encryption_set_id", "identityId": "identity_id"}
    if not isinstance(raw, dict) or sorted(raw) != sorted(keys) or not all(isinstance(v, str) and v for v in raw.values()):
        raise SpecError(Problem("slm-deploy:aksEncryption", "must name every customer-managed-key resource",
                                allowed=", ".join(sorted(keys)),
                                hint="Azure resource ids (and the key's versioned URL for kmsKeyId)"))
    return AksEncryption(**{keys[k]: v for k, v in raw.items()})


def read_settings(config: pulumi.Config, stack: str) -> StackSettings:
    """Read the operator settings; secret values are read as secrets and never leave Outputs."""
    username = config.get("registryUsername")
    password = config.get_secret("registryPassword")
    if (username is None) != (password is None):
        raise SpecError(Problem("slm-deploy:registryUsername", "registry credentials need both a username "
                                "and a password", hint="pulumi config set --secret slm-deploy:registryPassword ..."))
    ca_path = config.get("caBundle")
    ca_bundle = pulumi.Output.secret(Path(ca_path).read_text(encoding="utf-8")) if ca_path else None
    mode = config.get("kubeloginMode") or "azurecli"
    if mode not in KUBELOGIN_MODES:
        raise SpecError(Problem("slm-deploy:kubeloginMode", f"unknown kubelogin login mode {mode!r}",
                                allowed=", ".join(KUBELOGIN_MODES)))
    return StackSettings(
        work_dir=Path(config.get("workDir") or Path(".slm-deploy") / stack),
        platforms=tuple(config.get_object("platforms") or DEFAULT_PLATFORMS),
        registry_login=RegistryLogin(username, password) if username and password is not None else None,
        ca_bundle=ca_bundle,
        kubelogin_mode=mode,
        aks_encryption=_encryption(config.get_object("aksEncryption")),
        admin_group_object_ids=tuple(config.get_object("aksAdminGroupObjectIds") or ()),
        acr_resource_group=config.get("acrResourceGroup"),
        acme_server=_https_url("slm-deploy:acmeServer", config.get("acmeServer") or LETSENCRYPT_PRODUCTION),
        acme_email=config.get("acmeEmail"),
    )


def _https_url(key: str, value: str) -> str:
    """An ACME directory must be an https URL; anything else would send the account key in the clear."""
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise SpecError(Problem(key, "must be an https URL of an ACME directory",
                                hint="e.g. https://acme-staging-v02.api.letsencrypt.org/directory"))
    return value


class SettingsArgs(TypedDict, total=False):
    """The SlmDeployment args that stack settings stand for; each key has SlmDeploymentArgs' type."""

    platforms: list[str]
    kubelogin_mode: str
    acme_server: str
    build_dir: str
    ca_bundle: pulumi.Input[str]
    acme_email: str
    acr_resource_group: str
    admin_group_object_ids: list[str]
    aks_encryption: AksEncryptionArgs
    registry_username: pulumi.Input[str]
    registry_password: pulumi.Input[str]


def settings_args(settings: StackSettings) -> SettingsArgs:
    """The component args these settings stand for (what the stack program passes to SlmDeployment)."""
    args: SettingsArgs = {"platforms": list(settings.platforms), "kubelogin_mode": settings.kubelogin_mode,
                          "acme_server": settings.acme_server}
    if settings.work_dir:
        args["build_dir"] = str(settings.work_dir)
    if settings.ca_bundle is not None:
        args["ca_bundle"] = settings.ca_bundle
    if settings.acme_email is not None:
        args["acme_email"] = settings.acme_email
    if settings.acr_resource_group is not None:
        args["acr_resource_group"] = settings.acr_resource_group
    if settings.admin_group_object_ids:
        args["admin_group_object_ids"] = list(settings.admin_group_object_ids)
    if settings.aks_encryption:
        encryption = settings.aks_encryption
        args["aks_encryption"] = {"kms_key_id": encryption.kms_key_id,
                                  "key_vault_resource_id": encryption.key_vault_resource_id,
                                  "disk_encryption_set_id": encryption.disk_encryption_set_id,
                                  "identity_id": encryption.identity_id}
    if settings.registry_login is not None:
        args["registry_username"] = settings.registry_login.username
        args["registry_password"] = settings.registry_login.password
    return args


def settings_from_args(values: Mapping[str, Any]) -> StackSettings:
    """Component args back as the typed settings the cluster and add-on builders read."""
    mode = values.get("kubelogin_mode") or "azurecli"
    if mode not in KUBELOGIN_MODES:
        raise TypeError(f"args['kubelogin_mode'] must be one of {', '.join(KUBELOGIN_MODES)}")
    encryption = values.get("aks_encryption")
    username, password = values.get("registry_username"), values.get("registry_password")
    return StackSettings(
        work_dir=Path(values["build_dir"]) if values.get("build_dir") else None,
        platforms=tuple(values.get("platforms") or DEFAULT_PLATFORMS),
        registry_login=RegistryLogin(username, password) if username is not None and password is not None else None,
        ca_bundle=values.get("ca_bundle"),
        kubelogin_mode=mode,
        aks_encryption=AksEncryption(**encryption) if encryption else None,
        admin_group_object_ids=tuple(values.get("admin_group_object_ids") or ()),
        acr_resource_group=values.get("acr_resource_group"),
        acme_server=_https_url("args['acme_server']", values.get("acme_server") or LETSENCRYPT_PRODUCTION),
        acme_email=values.get("acme_email"),
    )
