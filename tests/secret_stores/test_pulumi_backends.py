"""Every backend deployed under Pulumi mocks: Kubernetes Secrets from secret config, Key Vaults created or
referenced with their identity, External Secrets objects; values stay secret Outputs end to end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from slm_deploy.key_vault import SECRETS_USER_ROLE, TOKEN_AUDIENCE, expiry_epoch
from slm_deploy.render.kubernetes.secret_sources import CLIENT_ID_ANNOTATION
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.secrets import PURPOSES, Purpose
from slm_deploy.stack_settings import StackSettings
from tests.secret_stores.cases import CASES, case
from tests.test_pulumi_components_aks import ENCRYPTION
from tests.test_policy_pulumi_mocks import Registration, describe, resource_violations, stack_violations
from tests.test_pulumi_components import (OIDC_ISSUER, ComponentMocks, canary_value, created_group, is_secret, plain,
                                          run_component, scoped, stack_spec, vault_id)

K8S_SECRET = "kubernetes:core/v1:Secret"
VAULT = "azure-native:keyvault:Vault"
KV_SECRET = "azure-native:keyvault:Secret"
ROLE = "azure-native:authorization:RoleAssignment"


def deploy(name: str, tmp_path: Path, config: dict[str, str] | None = None) -> ComponentMocks:
    """One case under mocks, with the platform's customer-managed keys where it runs on AKS (as the example)."""
    deployment = case(name)
    encryption = ENCRYPTION if deployment.spec.targets.aks else None
    return run_component(deployment, StackSettings(work_dir=tmp_path, aks_encryption=encryption), stack=name,
                         config=config)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ComponentMocks]:
    return {name: deploy(name, tmp_path_factory.mktemp(name)) for name in CASES}


def logical(name: str) -> str:
    """A Secret's name without the component prefix (<deployment>-k8s-secret-x -> secret-x)."""
    return "secret-" + name.split("-secret-", 1)[1]


def named(mocks: ComponentMocks, typ: str) -> dict[str, dict[str, Any]]:
    return {logical(r.name): r.inputs for r in mocks.of_type(typ)}


def test_kubernetes_backend_secrets_are_created_from_secret_config_values(deployed) -> None:
    secrets = named(deployed["kubernetes-secrets"], K8S_SECRET)
    assert sorted(secrets) == ["secret-api-keys", "secret-hf-token"]
    for name in ("api-keys", "hf-token"):
        inputs = secrets[f"secret-{name}"]
        assert is_secret(inputs["stringData"]) or is_secret(inputs["stringData"][name])
        assert plain(inputs["stringData"]) == {name: canary_value(name)}
        assert inputs["metadata"]["namespace"] == "phi4-onnx" and inputs["type"] == "Opaque"
    webui = named(deployed["kubernetes-webui"], K8S_SECRET)
    assert sorted(webui) == ["secret-api-keys", "secret-webui-api-key", "secret-webui-secret-key"]


def test_grafana_and_alertmanager_secrets_are_created_in_the_monitoring_namespace_their_pods_mount(deployed) -> None:
    mocks = deployed["kubernetes-monitoring"]
    secrets = {logical(r.name): r for r in mocks.of_type(K8S_SECRET)}
    assert sorted(secrets) == ["secret-api-keys", "secret-grafana-admin-password", "secret-hf-token",
                               "secret-oncall-token"]
    for name in ("grafana-admin-password", "oncall-token"):
        inputs = secrets[f"secret-{name}"].inputs
        assert inputs["metadata"]["namespace"] == "monitoring"
        assert plain(inputs["stringData"]) == {name: canary_value(name)}
    assert secrets["secret-api-keys"].inputs["metadata"]["namespace"] == "phi4-onnx"
    (namespace,) = [r for r in mocks.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == "monitoring"]
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    mounted = {}
    for workload in mocks.of_type("kubernetes:apps/v1:StatefulSet"):
        pod = plain(workload.inputs)["spec"]["template"]["spec"]
        sources = [s for v in pod["volumes"] if v["name"] == "secrets" for s in v["projected"]["sources"]]
        mounted[workload.inputs["metadata"]["name"].rsplit("-", 1)[-1]] = [s["secret"]["name"] for s in sources]
        assert workload.inputs["metadata"]["namespace"] == "monitoring"
    assert mounted["alertmanager"] == ["oncall-token"] and mounted["grafana"] == ["grafana-admin-password"]


def test_a_created_key_vault_meets_every_control_and_holds_expiring_typed_secrets(deployed) -> None:
    mocks = deployed["key-vault-created"]
    (vault,) = [plain(r.inputs) for r in mocks.of_type(VAULT)]
    props = vault["properties"]
    assert re.fullmatch(scoped("kv-slm-phi4"), vault["vaultName"]) and vault["resourceGroupName"] == created_group(mocks)
    assert props["enableRbacAuthorization"] is True and "accessPolicies" not in props
    assert props["enablePurgeProtection"] is True and props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["publicNetworkAccess"] == "Enabled"  # the case lists a range, so the firewall decides
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": "203.0.113.0/24"}]}
    assert props["tenantId"] == CASES["key-vault-created"]["secret_stores"]["azure_key_vaults"]["kv-slm-phi4"]["tenant_id"]
    (diagnostics,) = [plain(r.inputs) for r in mocks.of_type("azure-native:monitor:DiagnosticSetting")]
    assert diagnostics["resourceUri"] == vault_id(created_group(mocks), vault["vaultName"])
    assert diagnostics["workspaceId"] == "phi4-mini-aks-logs-id"
    assert diagnostics["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    written = {r.inputs["secretName"]: r.inputs for r in mocks.of_type(KV_SECRET)}
    assert sorted(written) == ["hf-token", "phi4-api-keys"]
    expiry = expiry_epoch(case("key-vault-created").spec.secret_stores.azure_key_vaults["kv-slm-phi4"].secrets_expire_on)
    for key, name, purpose in (("phi4-api-keys", "api-keys", Purpose.GATEWAY_API_KEYS),
                               ("hf-token", "hf-token", Purpose.MODEL_HUB_TOKEN)):
        props = written[key]["properties"]
        assert is_secret(props) or is_secret(props.get("value"))
        assert plain(props) == {"value": canary_value(name), "contentType": PURPOSES[purpose].content_type,
                                "attributes": {"enabled": True, "expires": expiry}}


def test_a_vault_without_ranges_turns_public_network_access_off(tmp_path: Path) -> None:
    mocks = run_component(parse_deployment(stack_spec("phi4-vllm-aks")), StackSettings(work_dir=tmp_path))
    (vault,) = [plain(r.inputs) for r in mocks.of_type(VAULT)]
    assert vault["properties"]["publicNetworkAccess"] == "Disabled"
    assert vault["properties"]["networkAcls"]["defaultAction"] == "Deny"


@pytest.mark.parametrize("name", ["key-vault-created", "key-vault-existing"])
def test_the_workload_identity_is_federated_with_one_service_account_and_reads_only_its_secrets(deployed, name) -> None:
    mocks = deployed[name]
    spec = case(name).spec
    # KEDA's identity for the managed Prometheus workspace is the other one (tests/test_pulumi_monitoring.py)
    (identity,) = [r for r in mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")
                   if r.name.endswith("-key-vault-identity")]
    (credential,) = [plain(r.inputs) for r in mocks.of_type("azure-native:managedidentity:FederatedIdentityCredential")
                     if r.name.endswith("-key-vault-federation")]
    assert credential["issuer"] == OIDC_ISSUER
    assert credential["subject"] == f"system:serviceaccount:{spec.targets.kubernetes.namespace}:{spec.name}"
    assert credential["audiences"] == [TOKEN_AUDIENCE]
    group = spec.secret_stores.azure_key_vaults["kv-slm-phi4"].resource_group or created_group(mocks)
    # a created vault's Azure name is scoped to the stack and component; an existing one keeps its name
    azure_name = next((r.inputs["vaultName"] for r in mocks.of_type(VAULT)), "kv-slm-phi4")
    # the vault's per-secret readers; the workspace readers of KEDA and Grafana are monitoring's
    grants = [plain(r.inputs) for r in mocks.of_type(ROLE) if "-kv-slm-phi4-" in r.name and r.name.endswith("-reader")]
    keys = sorted(spec.secrets[n].key or n for n in spec.secrets)
    assert sorted(g["scope"] for g in grants) == [f"{vault_id(group, azure_name)}/secrets/{k}" for k in keys]
    for grant in grants:
        assert grant["roleDefinitionId"].endswith(f"/roleDefinitions/{SECRETS_USER_ROLE}")
        assert grant["principalId"] == f"{identity.name}-principal-id" and grant["principalType"] == "ServicePrincipal"
    classes = [plain(r.inputs) for r in mocks.of_type("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass")]
    assert len(classes) == 2  # the gateway's and model preparation's
    assert {c["spec"]["parameters"]["clientID"] for c in classes} == {f"{identity.name}-client-id"}
    assert {c["spec"]["parameters"]["keyvaultName"] for c in classes} == {azure_name}
    (account,) = [plain(r.inputs) for r in mocks.of_type("kubernetes:core/v1:ServiceAccount")
                  if r.inputs["metadata"]["name"] == spec.name]
    assert account["metadata"]["annotations"] == {CLIENT_ID_ANNOTATION: f"{identity.name}-client-id"}


def test_an_existing_vault_is_looked_up_and_written_to_by_nobody(deployed) -> None:
    mocks = deployed["key-vault-existing"]
    assert mocks.of_type(VAULT) == [] and mocks.of_type(KV_SECRET) == [] and mocks.of_type(K8S_SECRET) == []
    (lookup,) = [c.args for c in mocks.calls if c.token == "azure-native:keyvault:getVault"]
    assert lookup == {"resourceGroupName": "rg-platform-secrets", "vaultName": "kv-slm-phi4"}


def test_an_existing_vault_and_external_stores_need_no_secret_config(tmp_path: Path) -> None:
    for name in ("key-vault-existing", "external-hashicorp-vault", "external-aws-cluster-store"):
        mocks = deploy(name, tmp_path / name, config={})
        assert mocks.of_type(K8S_SECRET) == []


@pytest.mark.parametrize(("name", "store_kind"), [("external-hashicorp-vault", "SecretStore"),
                                                  ("external-aws-cluster-store", "ClusterSecretStore"),
                                                  ("external-google-and-platform-store", "SecretStore")])
def test_external_secrets_objects_are_registered_as_custom_resources(deployed, name, store_kind) -> None:
    mocks = deployed[name]
    externals = [plain(r.inputs) for r in mocks.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")]
    assert sorted(e["metadata"]["name"] for e in externals) == ["api-keys", "hf-token"]
    stores = mocks.of_type(f"kubernetes:external-secrets.io/v1:{store_kind}")
    assert len(stores) == 1
    assert mocks.of_type(K8S_SECRET) == []


def test_a_missing_value_names_the_secret_its_reader_and_the_command(tmp_path: Path) -> None:
    config = {"slm-deploy:secret-api-keys": canary_value("api-keys")}
    with pytest.raises(pulumi.RunError) as raised:
        deploy("kubernetes-secrets", tmp_path, config=config)
    message = str(raised.value)
    assert "slm-deploy:secret-hf-token" in message and "'hf-token'" in message
    assert "model preparation (model.hub_token_secret)" in message
    assert "pulumi config set --secret slm-deploy:secret-hf-token" in message
    assert canary_value("api-keys") not in message


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_registration_passes_the_policy_pack(deployed, name) -> None:
    registrations = [Registration(r.typ, r.name, plain(dict(r.inputs))) for r in deployed[name].resources if r.custom]
    found = resource_violations(registrations)
    found.update(stack_violations(registrations))
    assert found == {}, describe(found)


def test_a_program_can_hand_the_values_over_as_outputs_instead_of_config(tmp_path: Path) -> None:
    def settings() -> StackSettings:
        return StackSettings(work_dir=tmp_path, secret_values={
            "secret-api-keys": pulumi.Output.secret("program-api-keys-0123456789abcdef"),
            "secret-hf-token": pulumi.Output.secret("program-hf-token-0123456789abcdef")})

    mocks = run_component(case("kubernetes-secrets"), settings, config={})
    secrets = named(mocks, K8S_SECRET)
    assert plain(secrets["secret-hf-token"]["stringData"]) == {"hf-token": "program-hf-token-0123456789abcdef"}
    assert is_secret(secrets["secret-api-keys"]["stringData"])
