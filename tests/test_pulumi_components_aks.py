"""The AKS example under Pulumi mocks: cluster controls A1-A9, the GPU pool, the provider, and the policy pack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi_policy import ResourceValidationPolicy

pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")

from slm_deploy.aks_cluster import gpu_vm_size, kubeconfig_for_login  # noqa: E402
from slm_deploy.errors import SpecError  # noqa: E402
from slm_deploy.render.kubernetes.gpu_scheduling import GPU_NODE_LABELS as GPU_LABELS, GPU_TAINT  # noqa: E402
from slm_deploy.policies.crossguard import build_policies  # noqa: E402
from slm_deploy.render.images import build_owners, built_image  # noqa: E402
from slm_deploy.runtimes import plan_deployment  # noqa: E402
from slm_deploy.spec.loader import parse_deployment  # noqa: E402
from slm_deploy.stack_settings import AksEncryption, StackSettings  # noqa: E402
from tests.policies.policy_harness import run_resource_policy  # noqa: E402
from tests.test_pulumi_components import (AKS_KUBECONFIG, IMAGE, ComponentMocks, containers, created_group,  # noqa: E402
                                          mocked_ref, plain, run_component, scoped, stack_spec)

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
PROVIDER = "pulumi:providers:kubernetes"
ENCRYPTION = AksEncryption(
    kms_key_id="https://kv-phi4-keys.vault.azure.net/keys/etcd/0123456789abcdef0123456789abcdef",
    key_vault_resource_id="/subscriptions/0000/resourceGroups/rg-platform/providers/Microsoft.KeyVault/vaults/kv-phi4-keys",
    disk_encryption_set_id="/subscriptions/0000/resourceGroups/rg-platform/providers/Microsoft.Compute/diskEncryptionSets/des-aks",
    identity_id="/subscriptions/0000/resourceGroups/rg-platform/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-cp",
)


def run_aks(tmp_path: Path, encryption: AksEncryption | None = ENCRYPTION, spec: dict | None = None):
    """The AKS example (or a variant) under mocks, with the URNs of every child resolved."""
    deployment = parse_deployment(spec or stack_spec("phi4-vllm-aks"))
    seen: dict[str, Any] = {}

    def check(component):
        workloads = component.workloads
        urns = [component.urn, workloads.urn, *(r.urn for r in workloads.resources)]
        outputs = {k: v for k, v in component.outputs.items() if k != "images"}
        return pulumi.Output.all(pulumi.Output.all(*urns), pulumi.Output.all(**outputs)).apply(
            lambda resolved: seen.update(urns=resolved[0], outputs=resolved[1]))

    mocks = run_component(deployment, StackSettings(work_dir=tmp_path, aks_encryption=encryption),
                          stack="phi4-vllm-aks", check=check)
    return deployment, mocks, seen


@pytest.fixture(scope="module")
def aks(tmp_path_factory: pytest.TempPathFactory):
    return run_aks(tmp_path_factory.mktemp("aks"))


def the(mocks: ComponentMocks, typ: str, name: str | None = None) -> dict[str, Any]:
    """The inputs of the one registered resource of a type (and name suffix)."""
    found = [r for r in mocks.of_type(typ) if name is None or r.name.endswith(name)]
    assert len(found) == 1, [r.name for r in found]
    return plain(found[0].inputs)


def test_the_cluster_meets_each_control_of_the_hardening_reference(aks) -> None:
    _, mocks, _ = aks
    cluster = the(mocks, CLUSTER)
    # A1: RBAC with Entra ID and Azure RBAC, no local accounts
    assert cluster["enableRBAC"] is True and cluster["disableLocalAccounts"] is True
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    # A2: private API server (the example leaves private_cluster at its default)
    assert cluster["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert "authorizedIPRanges" not in cluster["apiServerAccessProfile"]
    # A3: a network policy engine
    assert cluster["networkProfile"]["networkPolicy"] == "cilium"
    assert cluster["networkProfile"]["networkDataplane"] == "cilium"
    # A4, A5, A8: Azure Policy, Container Insights on the stack's workspace, Key Vault CSI with rotation
    addons = cluster["addonProfiles"]
    assert addons["azurepolicy"] == {"enabled": True}
    assert addons["omsagent"]["config"]["logAnalyticsWorkspaceResourceID"] == "phi4-mini-aks-logs-id"
    assert addons["azureKeyvaultSecretsProvider"]["config"]["enableSecretRotation"] == "true"
    assert cluster["azureMonitorProfile"] == {"metrics": {"enabled": True}}
    assert not {"kubeDashboard", "httpApplicationRouting"} & set(addons)
    # A6: customer-managed keys for etcd and disks, encryption at host, a user-assigned control-plane identity
    security = cluster["securityProfile"]
    assert security["azureKeyVaultKms"] == {"enabled": True, "keyId": ENCRYPTION.kms_key_id,
                                            "keyVaultNetworkAccess": "Private",
                                            "keyVaultResourceId": ENCRYPTION.key_vault_resource_id}
    assert cluster["apiServerAccessProfile"]["enableVnetIntegration"] is True
    assert cluster["diskEncryptionSetID"] == ENCRYPTION.disk_encryption_set_id
    assert cluster["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [ENCRYPTION.identity_id]}
    # A7: upgrades, no public node IPs, reserved system pool
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    (system,) = cluster["agentPoolProfiles"]
    assert system["mode"] == "System" and system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["enableNodePublicIP"] is False and system["enableEncryptionAtHost"] is True
    # A8, A9: workload identity with the OIDC issuer; Defender on the stack's workspace
    assert security["workloadIdentity"] == {"enabled": True}
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert security["defender"] == {"logAnalyticsWorkspaceResourceId": "phi4-mini-aks-logs-id",
                                    "securityMonitoring": {"enabled": True}}
    assert cluster["location"] == "westeurope" and cluster["kubernetesVersion"] == "1.33"


def test_the_resource_group_is_named_as_the_spec_says_scoped_to_the_stack(aks) -> None:
    _, mocks, _ = aks
    group = the(mocks, "azure-native:resources:ResourceGroup")
    assert group["location"] == "westeurope" and re.fullmatch(scoped("rg-slm-phi4"), group["resourceGroupName"])
    assert the(mocks, CLUSTER)["resourceGroupName"] == group["resourceGroupName"]
    assert re.fullmatch(scoped("aks-phi4-mini"), the(mocks, CLUSTER)["resourceName"])


def test_the_gpu_pool_is_tainted_and_labelled_for_exactly_the_rendered_gpu_pods(aks) -> None:
    _, mocks, _ = aks
    pool = the(mocks, POOL, "-gpu")
    assert pool["vmSize"] == "Standard_NC24ads_A100_v4"
    assert pool["mode"] == "User" and pool["nodeTaints"] == [GPU_TAINT]
    assert pool["enableNodePublicIP"] is False and pool["enableEncryptionAtHost"] is True
    assert pool["gpuProfile"] == {"driver": "Install"}
    assert (pool["minCount"], pool["count"], pool["maxCount"]) == (2, 2, 4)  # autoscaling 2..4 in the example
    assert pool["resourceName"] == the(mocks, CLUSTER)["resourceName"]
    assert pool["resourceGroupName"] == created_group(mocks)
    runtime = next(r for r in mocks.of_type("kubernetes:apps/v1:Deployment") if r.name == "phi4-mini-k8s-deployment-phi4-mini")
    pod = plain(runtime.inputs)["spec"]["template"]["spec"]
    assert pod["nodeSelector"].items() <= pool["nodeLabels"].items() and pool["nodeLabels"] == GPU_LABELS
    key, rest = GPU_TAINT.split("=", 1)
    effect = rest.split(":", 1)[1]
    assert any(t["key"] == key and t["effect"] == effect and t["operator"] == "Exists" for t in pod["tolerations"])
    gateway = next(r for r in mocks.of_type("kubernetes:apps/v1:Deployment") if r.name == "phi4-mini-k8s-deployment-phi4-mini-gateway")
    assert "nodeSelector" not in plain(gateway.inputs)["spec"]["template"]["spec"]
    apps = the(mocks, POOL, "-apps")
    assert apps["mode"] == "User" and "nodeTaints" not in apps  # the gateway's home, as the system pool is reserved


def test_workloads_land_on_the_new_cluster_through_its_provider(aks) -> None:
    _, mocks, seen = aks
    provider = the(mocks, PROVIDER)
    (kubeconfig,) = [r.inputs["kubeconfig"] for r in mocks.of_type(PROVIDER)]
    assert plain(kubeconfig) == provider["kubeconfig"] and kubeconfig != provider["kubeconfig"]  # a secret
    user = yaml.safe_load(provider["kubeconfig"])["users"][0]["user"]["exec"]
    assert user["command"] == "kubelogin" and user["args"][user["args"].index("--login") + 1] == "azurecli"
    call = next(c for c in mocks.calls if c.token.endswith("listManagedClusterUserCredentials"))
    assert call.args["resourceName"] == the(mocks, CLUSTER)["resourceName"] and call.args["format"] == "exec"
    kubernetes = [r for r in mocks.resources if r.custom and r.typ.startswith("kubernetes:")]
    assert kubernetes and all(r.provider.split("::")[-2] == "phi4-mini-aks-k8s" for r in kubernetes)
    component, workloads, *children = seen["urns"]
    assert component.endswith("$slm-deploy:index:SlmDeployment::phi4-mini")
    assert workloads.endswith("::slm-deploy:index:SlmDeployment$slm-deploy:index:KubernetesWorkloads::phi4-mini-k8s")
    add_ons = [r for r in kubernetes if r.name.startswith("phi4-mini-add-ons-")]  # device plugin, cert-manager
    assert len(children) == len(kubernetes) - len(add_ons)
    assert all("::slm-deploy:index:KubernetesWorkloads$kubernetes:" in urn for urn in children)


def test_the_gateway_is_pulled_by_digest_and_the_stack_exports_what_an_operator_needs(aks) -> None:
    deployment, mocks, seen = aks
    owners = {o.name: built_image(deployment, o) for o in build_owners(plan_deployment(deployment))}
    gateway = next(r for r in mocks.of_type("kubernetes:apps/v1:Deployment") if r.name == "phi4-mini-k8s-deployment-phi4-mini-gateway")
    assert [c["image"] for c in containers(plain(gateway.inputs))] == [mocked_ref(owners["phi4-mini-gateway"])]
    assert seen["outputs"]["namespace"] == "phi4-mini"
    assert seen["outputs"]["gatewayService"] == "phi4-mini-gateway"
    assert seen["outputs"]["clusterName"] == the(mocks, CLUSTER)["resourceName"]
    assert seen["outputs"]["resourceGroup"] == created_group(mocks)


def policy_violations(mocks: ComponentMocks) -> dict[tuple[str, str], list[str]]:
    """Every pack policy run on the mocked cluster, pools and Images, as CrossGuard would at preview."""
    found = {}
    for resource in mocks.of_type(CLUSTER) + mocks.of_type(POOL) + mocks.of_type(IMAGE):
        for policy in (p for p in build_policies() if isinstance(p, ResourceValidationPolicy)):
            messages = run_resource_policy(policy, resource.typ, plain(resource.inputs), name=resource.name)
            if messages:
                found[(policy.name, resource.name)] = messages
    return found


def test_the_policy_pack_finds_nothing_on_the_cluster_pools_and_inline_dockerfiles(aks) -> None:
    _, mocks, _ = aks
    images = sorted(image.name for image in mocks.of_type(IMAGE))
    assert len(mocks.of_type(CLUSTER)) == 1 and len(mocks.of_type(POOL)) == 2 and len(images) == 3, images
    assert any(name.endswith("egress-proxy") for name in images), images  # the model download's only way out
    assert policy_violations(mocks) == {}


def test_without_platform_keys_only_the_customer_managed_key_rule_fires(tmp_path: Path) -> None:
    _, mocks, _ = run_aks(tmp_path, encryption=None)
    cluster = the(mocks, CLUSTER)
    assert cluster["identity"] == {"type": "SystemAssigned"} and "azureKeyVaultKms" not in cluster["securityProfile"]
    violations = policy_violations(mocks)
    assert set(violations) == {("slm-aks-006", "phi4-mini-aks-cluster")}
    assert violations[("slm-aks-006", "phi4-mini-aks-cluster")] == [
        "securityProfile.azureKeyVaultKms.enabled must be true",
        "diskEncryptionSetID must name a customer-managed disk encryption set"]


def test_a_public_api_server_is_limited_to_the_authorised_ranges(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["targets"]["aks"].update(private_cluster=False, authorized_ip_ranges=["203.0.113.0/24"])
    _, mocks, _ = run_aks(tmp_path, spec=spec)
    assert the(mocks, CLUSTER)["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"],
                                                             "enableVnetIntegration": True}
    assert policy_violations(mocks) == {}


def test_a_public_api_server_without_ranges_is_refused_before_any_resource() -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["targets"]["aks"]["private_cluster"] = False
    with pytest.raises(SpecError, match="targets.aks.authorized_ip_ranges: a public API server needs"):
        parse_deployment(spec)


def small_context_spec() -> dict[str, Any]:
    """The AKS example with a context and concurrency that fit every GPU type's memory."""
    spec = stack_spec("phi4-vllm-aks")
    spec["model"]["context_length"] = 2048
    spec["serving"]["concurrency"] = 1
    return spec


@pytest.mark.parametrize(("gpu", "count", "size"), [
    ("nvidia-t4", 1, "Standard_NC4as_T4_v3"), ("nvidia-t4", 3, "Standard_NC64as_T4_v3"),
    ("nvidia-a10", 1, "Standard_NV36ads_A10_v5"), ("nvidia-a100-80gb", 2, "Standard_NC48ads_A100_v4"),
    ("nvidia-a100-40gb", 1, "Standard_NC24ads_A100_v4"), ("nvidia-h100", 1, "Standard_NC40ads_H100_v5"),
])
def test_the_gpu_vm_size_defaults_from_the_gpu_type_and_count(gpu: str, count: int, size: str) -> None:
    spec = small_context_spec()
    spec["resources"].update(gpu={"type": gpu, "count": count}, cpu=2)  # the 4-vCPU NC4as_T4_v3 holds 2 CPU
    del spec["targets"]["aks"]["gpu_vm_size"]
    assert gpu_vm_size(parse_deployment(spec).spec) == size


def test_an_l4_has_no_azure_default_and_a_named_size_is_used() -> None:
    spec = small_context_spec()
    spec["resources"].update(gpu={"type": "nvidia-l4", "count": 1}, cpu=2)
    del spec["targets"]["aks"]["gpu_vm_size"]
    with pytest.raises(SpecError, match="targets.aks.gpu_vm_size: is unset"):
        parse_deployment(spec)
    spec["resources"]["gpu"] = {"type": "nvidia-h100", "count": 4}
    spec["targets"]["aks"]["gpu_vm_size"] = "Standard_ND96isr_H100_v5"  # a size outside the table is the user's
    assert gpu_vm_size(parse_deployment(spec).spec) == "Standard_ND96isr_H100_v5"


def test_kubelogin_is_switched_to_a_non_interactive_login_and_nothing_else_changes() -> None:
    converted = yaml.safe_load(kubeconfig_for_login(yaml.safe_dump(AKS_KUBECONFIG), "workloadidentity"))
    args = converted["users"][0]["user"]["exec"]["args"]
    assert args == ["get-token", "--login", "workloadidentity", "--server-id",
                    "6dae42f8-4368-4678-94ff-3960e28e3630", "--environment", "AzurePublicCloud"]
    converted["users"][0]["user"]["exec"]["args"] = AKS_KUBECONFIG["users"][0]["user"]["exec"]["args"]
    assert converted == AKS_KUBECONFIG
