"""KeyVaultSecrets: the deployment's Azure Key Vaults (created hardened, or existing ones referenced), the secrets
Pulumi writes into them, and the workload identity that may read exactly those secrets through the CSI driver."""

import calendar
import datetime
from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_azure_native as azure_native
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.aks_registry import role_definition_id
from slm_deploy.azure_invokes import invoke_options
from slm_deploy.azure_names import KEY_VAULT_LIMIT, scope_suffix, scoped_name
from slm_deploy.component_inputs import ResolvedSpec, checked_args
from slm_deploy.errors import SlmDeployError
from slm_deploy.secret_values import read_secret_values
from slm_deploy.spec.consistency import namespace_of
from slm_deploy.spec.secret_uses import backend_of, purpose_of, remote_key, vault_of
from slm_deploy.spec.secrets import PURPOSES, AzureKeyVault
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.present import aks_target, present

SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"
"""The built-in Key Vault Secrets User role: read secret contents, nothing else."""
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""The audience Entra ID accepts for workload identity federation."""


def vault_secrets(deployment: Deployment) -> dict[str, list[str]]:
    """Vault name -> the azure-key-vault secrets kept there, for every vault the spec declares."""
    spec = deployment.spec
    found: dict[str, list[str]] = {name: [] for name in sorted(spec.secret_stores.azure_key_vaults)}
    for name in sorted(spec.secrets):
        if backend_of(spec, name) == "azure-key-vault":
            found[vault_of(spec, name)].append(name)
    return found


def expiry_epoch(day: datetime.date) -> int:
    """Key Vault's `exp`: seconds since the epoch at the start of the day, UTC."""
    return calendar.timegm(day.timetuple())


def vault_properties(store: AzureKeyVault) -> azure_native.keyvault.VaultPropertiesArgsDict:
    """The vault controls: RBAC only, soft delete with purge protection, no public access unless the spec
    lists ranges (then a deny-by-default firewall), and no VM, disk or template access paths."""
    properties: azure_native.keyvault.VaultPropertiesArgsDict = {
        "tenant_id": store.tenant_id, "sku": {"family": azure_native.keyvault.SkuFamily.A, "name": azure_native.keyvault.SkuName.STANDARD},
        "enable_rbac_authorization": True, "enable_soft_delete": True, "enable_purge_protection": True,
        "soft_delete_retention_in_days": store.soft_delete_retention_days,
        "enabled_for_deployment": False, "enabled_for_disk_encryption": False,
        "enabled_for_template_deployment": False,
        "public_network_access": "Enabled" if store.allowed_ip_ranges else "Disabled",
        "network_acls": {"default_action": "Deny", "bypass": "None",
                         "ip_rules": [{"value": cidr} for cidr in store.allowed_ip_ranges]},
    }
    return properties


def vault_diagnostics(name: str, vault_name: str, vault_id: pulumi.Input[str], workspace_id: pulumi.Input[str],
                      opts: pulumi.ResourceOptions) -> azure_native.monitor.DiagnosticSetting:
    """Every audit and data-plane log of the vault, and its metrics, to the cluster's Log Analytics workspace."""
    return azure_native.monitor.DiagnosticSetting(
        name, name=f"{vault_name}-audit", resource_uri=vault_id, workspace_id=workspace_id,
        logs=[{"category_group": "allLogs", "enabled": True}],
        metrics=[{"category": "AllMetrics", "enabled": True}], opts=opts)


def secret_properties(deployment: Deployment, name: str, value: pulumi.Input[str],
                      store: AzureKeyVault) -> azure_native.keyvault.SecretPropertiesArgsDict:
    """A secret with its purpose as content type and the store's expiry; the value stays a Pulumi secret."""
    purpose = purpose_of(deployment.spec, name)
    expires = expiry_epoch(present(store.secrets_expire_on, "secret_stores.azure_key_vaults.secrets_expire_on"))
    return {"value": pulumi.Output.secret(value), "content_type": PURPOSES[purpose].content_type,
            "attributes": {"enabled": True, "expires": expires}}


def service_account_subject(deployment: Deployment) -> str:
    """The one Kubernetes identity the credential trusts: the workloads' ServiceAccount in their namespace."""
    return f"system:serviceaccount:{namespace_of(deployment.spec)}:{deployment.spec.name}"


class KeyVaultSecretsArgs(TypedDict, total=False):
    """The spec's Key Vault stores and secrets, where to create them, and the cluster identity issuer."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    resource_group_name: Required[pulumi.Input[str]]
    """Where vaults without a resource group of their own and the identity are created."""
    oidc_issuer_url: Required[pulumi.Input[str]]
    """The cluster's OIDC issuer, which the workload identity is federated with."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace the vaults' audit logs go to (needed when the spec creates a vault)."""
    namespace: pulumi.Input[str]
    """The workloads' namespace when the caller owns it (as given to KubernetesWorkloads)."""
    secret_values: dict[str, pulumi.Input[str]]
    """Values written into vaults Pulumi creates, by config key (secret-<name>); kept secret."""
    existing_vault_ids: dict[str, pulumi.Input[str]]
    """Resource id of each existing vault (create: false) by name, e.g. a vault made in the same program."""


KEY_VAULT_SECRETS_ARGS = frozenset(KeyVaultSecretsArgs.__annotations__)


class KeyVaultSecrets(pulumi.ComponentResource):
    """Vaults, their secrets and diagnostics, and one federated identity holding Key Vault Secrets User on
    each secret the workloads mount (not on the vault)."""

    client_id: pulumi.Output[str]
    """The workload identity's client id (KubernetesWorkloads' key_vault_client_id)."""
    vault_names: pulumi.Output[dict[str, str]]
    """Spec vault name -> its Azure name (KubernetesWorkloads' key_vault_names): a vault Pulumi creates gets a
    suffix per stack and component, since Key Vault names are global; an existing vault keeps its name."""

    def __init__(self, name: str, args: KeyVaultSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:KeyVaultSecrets", name, None, opts)
        given = checked_args("KeyVaultSecrets", args, KEY_VAULT_SECRETS_ARGS)
        for required in ("resource_group_name", "oidc_issuer_url"):
            if given.get(required) is None:
                raise TypeError(f"KeyVaultSecrets needs args['{required}']")
        resolved = ResolvedSpec(given["spec"], namespace=given.get("namespace"))
        deployment = resolved.deployment
        try:
            values = read_secret_values((given.get("secret_values") or {}).get, deployment)
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        resource_group, existing = given["resource_group_name"], given.get("existing_vault_ids") or {}
        spec, child = deployment.spec, pulumi.ResourceOptions(parent=self)
        location = aks_target(spec).location
        self.identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_group_name=resource_group, location=location, opts=child)
        self.credential = azure_native.managedidentity.FederatedIdentityCredential(
            f"{name}-federation", resource_group_name=resource_group, resource_name_=self.identity.name,
            issuer=given["oidc_issuer_url"], subject=resolved.bind(service_account_subject(deployment)),
            audiences=[TOKEN_AUDIENCE], opts=child)
        self.vaults: dict[str, azure_native.keyvault.Vault | None] = {}
        self.azure_names: dict[str, str] = {}
        self.secrets: list[azure_native.keyvault.Secret] = []
        self.grants: list[azure_native.authorization.RoleAssignment] = []
        self.diagnostics: list[azure_native.monitor.DiagnosticSetting] = []
        for vault_name, names in vault_secrets(deployment).items():
            store = spec.secret_stores.azure_key_vaults[vault_name]
            group = store.resource_group or resource_group
            azure_name = self.azure_names[vault_name] = (
                scoped_name(vault_name, scope_suffix(name), KEY_VAULT_LIMIT) if store.create else vault_name)
            if store.create:
                workspace_id = given.get("workspace_id")
                if workspace_id is None:
                    raise TypeError("KeyVaultSecrets needs args['workspace_id'] to audit the vaults it creates")
                vault = azure_native.keyvault.Vault(
                    f"{name}-{vault_name}", vault_name=azure_name, resource_group_name=group, location=location,
                    properties=vault_properties(store), opts=child)
                vault_id, self.vaults[vault_name] = vault.id, vault
                self.diagnostics.append(
                    vault_diagnostics(f"{name}-{vault_name}-diagnostics", azure_name, vault.id, workspace_id, child))
            else:
                vault_id = existing.get(vault_name) or azure_native.keyvault.get_vault_output(
                    resource_group_name=group, vault_name=vault_name, opts=invoke_options(self)).id
                self.vaults[vault_name] = None
            for secret in names:
                self._grant(name, deployment, secret, vault_name, vault_id, group, store, values, child)
        self.client_id = self.identity.client_id
        self.vault_names = pulumi.Output.from_input(dict(self.azure_names))
        claim_child_names(self)
        self.register_outputs({"clientId": self.client_id, "vaultNames": self.vault_names})

    def _grant(self, name: str, deployment: Deployment, secret: str, vault_name: str, vault_id: pulumi.Input[str],
               group: pulumi.Input[str], store: AzureKeyVault, values: Mapping[str, pulumi.Input[str]],
               opts: pulumi.ResourceOptions) -> None:
        """Write the secret (in a vault Pulumi owns) and let the identity read that one secret."""
        key = remote_key(deployment.spec, secret)
        depends: list[pulumi.Resource] = []
        created = self.vaults[vault_name]
        if created is not None:
            written = azure_native.keyvault.Secret(
                f"{name}-{vault_name}-{secret}", vault_name=self.azure_names[vault_name], resource_group_name=group,
                secret_name=key,
                properties=secret_properties(deployment, secret, values[secret], store),
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    depends_on=[created], additional_secret_outputs=["properties"])))
            self.secrets.append(written)
            depends.append(written)
        scope = pulumi.Output.from_input(vault_id).apply(lambda vid: f"{vid}/secrets/{key}")
        self.grants.append(azure_native.authorization.RoleAssignment(
            f"{name}-{vault_name}-{secret}-reader", scope=scope,
            role_definition_id=pulumi.Output.from_input(vault_id).apply(
                lambda vid: role_definition_id(vid, SECRETS_USER_ROLE)),
            principal_id=self.identity.principal_id, principal_type="ServicePrincipal",
            description=f"slm-deploy: the {deployment.spec.name} workloads read {key}",
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends))))
