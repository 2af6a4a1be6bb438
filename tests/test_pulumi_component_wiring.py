"""The AKS components wired together in a program of one's own, under Pulumi mocks: the cluster's provider,
registry and Azure provider reach every child; Output-valued inputs obey the rules plain ones do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")

import pulumi_azure_native as azure_native  # noqa: E402

from slm_deploy.aks_add_ons import AksAddOns  # noqa: E402
from slm_deploy.aks_cluster import AksCluster  # noqa: E402
from slm_deploy.image_builds import ImageBuilds  # noqa: E402
from slm_deploy.kubernetes_workloads import KubernetesWorkloads  # noqa: E402
from slm_deploy.stack import SlmDeployment  # noqa: E402
from tests.test_pulumi_components import (REGISTRY_SUBSCRIPTION, created_group, kubernetes_onnx_spec, plain,  # noqa: E402
                                          stack_spec)
from tests.test_pulumi_composition import run  # noqa: E402

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def aks_spec() -> dict[str, Any]:
    """The AKS example: GPU, ingress, Key Vault secrets, managed monitoring, autoscaling."""
    return stack_spec("phi4-vllm-aks")


def secret_values(spec: dict[str, Any]) -> dict[str, str]:
    return {f"secret-{name}": "v" for name in spec.get("secrets", {})}


def later(value: str) -> pulumi.Output[str]:
    """A value known only once another resource exists (an ACR's login server, a Namespace's name)."""
    return pulumi.Output.from_input(value).apply(lambda known: known)


VAULT_NAMES = {"kv-slm-phi4": "kv-slm-phi4-0a1b2c"}
"""KeyVaultSecrets' vault_names for the example's one created vault."""


def provider_name(resource: Any) -> str:
    """The logical name of the provider a mocked resource was registered with ('' for the default one)."""
    return resource.provider.split("::")[-2] if resource.provider else ""


def kubernetes_objects(mocks) -> list[Any]:
    return [r for r in mocks.resources if r.custom and r.typ.startswith("kubernetes:")]


def composed_on_aks(tmp_path: Path, spec: dict[str, Any], **workload_args: Any) -> None:
    """AksCluster, AksAddOns, ImageBuilds and KubernetesWorkloads, as a program composes them by hand."""
    cluster = AksCluster("cluster", {"spec": spec})
    AksAddOns("add-ons", {"spec": spec, "kubernetes_provider": cluster.kubernetes_provider})
    images = ImageBuilds("images", {"spec": spec, "build_dir": str(tmp_path)})
    KubernetesWorkloads("workloads", {"spec": spec, "images": images.images, "secret_values": secret_values(spec),
                                      "kubernetes_provider": cluster.kubernetes_provider, **workload_args})


def test_the_cluster_provider_of_aks_cluster_reaches_every_kubernetes_child(tmp_path: Path) -> None:
    spec = aks_spec()
    mocks, _ = run(lambda: composed_on_aks(tmp_path, spec, key_vault_client_id="kv-client-id", key_vault_names=VAULT_NAMES,
                                          prometheus_query_endpoint="https://amw.example/",
                                          keda_client_id="keda-client-id"))
    objects = kubernetes_objects(mocks)
    kinds = {r.typ.rsplit(":", 1)[1] for r in objects}
    assert {"DaemonSet", "Release", "ClusterIssuer", "Deployment", "ScaledObject"} <= kinds
    assert any(r.name.startswith("add-ons-") for r in objects) and any(r.name.startswith("workloads-") for r in objects)
    assert {provider_name(r) for r in objects} == {"cluster-k8s"}


@pytest.mark.parametrize("component", ["AksAddOns", "KubernetesWorkloads", "SlmDeployment"])
def test_a_provider_known_only_as_an_output_is_refused_not_dropped(tmp_path: Path, component: str) -> None:
    spec = aks_spec()

    def program() -> None:
        cluster = AksCluster("cluster", {"spec": spec})
        provider = pulumi.Output.from_input(cluster.kubernetes_provider)
        if component == "AksAddOns":
            AksAddOns("add-ons", {"spec": spec, "kubernetes_provider": provider})
        elif component == "KubernetesWorkloads":
            KubernetesWorkloads("workloads", {"spec": spec, "kubernetes_provider": provider,
                                              "secret_values": secret_values(spec), "images": {}})
        else:
            SlmDeployment("phi4", {"spec": kubernetes_onnx_spec(), "kubernetes_provider": provider,
                                   "build_dir": str(tmp_path), "secret_values": {"secret-api-keys": "k"}})

    with pytest.raises(TypeError, match=rf"{component} args\['kubernetes_provider'\] must be a pulumi_kubernetes "
                                        r"Provider resource.*not Output"):
        run(program)


def acr_id(group: str, name: str) -> str:
    return f"{REGISTRY_SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/registries/{name}"


def acr_pull_grants(mocks) -> list[dict[str, Any]]:
    return [r.inputs for r in mocks.of_type(ROLE_ASSIGNMENT) if r.name.endswith("-acr-pull")]


@pytest.mark.parametrize("docker", [{"repository": "slm"}, {}])
def test_a_registry_known_only_as_an_output_gets_acr_pull_for_the_nodes(tmp_path: Path, docker: dict) -> None:
    spec = aks_spec()
    spec["targets"]["docker"] = docker  # the spec names no registry (or a stale one): the program makes it
    mocks, _ = run(lambda: SlmDeployment("phi4", {"spec": spec, "registry": later("newacr.azurecr.io/slm"),
                                                  "build_dir": str(tmp_path), "secret_values": secret_values(spec)}))
    lookups = [(c.args["registryName"], c.args["resourceGroupName"]) for c in mocks.calls
               if c.token.endswith("getRegistry")]
    assert lookups == [("newacr", created_group(mocks))]
    (grant,) = acr_pull_grants(mocks)
    assert grant["scope"] == acr_id(created_group(mocks), "newacr")
    assert grant["principalId"] == "phi4-aks-cluster-kubelet-object-id"
    assert grant["roleDefinitionId"].startswith(f"{REGISTRY_SUBSCRIPTION}/providers/Microsoft.Authorization/")


def test_a_registry_resource_id_is_granted_as_given_and_the_kubelet_identity_is_an_output(tmp_path: Path) -> None:
    made = acr_id("rg-shared", "madehere")
    seen: dict[str, Any] = {}

    def program() -> Any:
        cluster = AksCluster("cluster", {"spec": aks_spec(), "registry": later("madehere.azurecr.io"),
                                         "registry_resource_id": later(made)})
        return cluster.kubelet_object_id.apply(lambda oid: seen.update(kubelet=oid))

    mocks, _ = run(program)
    assert [grant["scope"] for grant in acr_pull_grants(mocks)] == [made]
    assert not [c for c in mocks.calls if c.token.endswith("getRegistry")]  # nothing to look up
    assert seen["kubelet"] == "cluster-cluster-kubelet-object-id"


def test_an_output_registry_outside_azure_is_refused_on_aks_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"args\['registry'\] resolved to a registry that is not an Azure Container "
                                        r"Registry") as raised:
        run(lambda: AksCluster("cluster", {"spec": aks_spec(), "registry": later("ghcr.io/secret-team")}))
    assert "secret-team" not in str(raised.value)


def test_every_azure_lookup_uses_the_components_azure_provider(tmp_path: Path) -> None:
    spec = aks_spec()
    vault = next(iter(spec["secret_stores"]["azure_key_vaults"]))
    spec["secret_stores"]["azure_key_vaults"][vault] = {  # looked up, not created
        "create": False, "resource_group": "rg-vaults",
        "tenant_id": spec["secret_stores"]["azure_key_vaults"][vault]["tenant_id"]}

    def program() -> None:
        other = azure_native.Provider("other-subscription", subscription_id="22222222-2222-2222-2222-222222222222")
        SlmDeployment("phi4", {"spec": spec, "build_dir": str(tmp_path), "secret_values": secret_values(spec)},
                      opts=pulumi.ResourceOptions(providers=[other]))

    mocks, _ = run(program)
    tokens = {c.token.split(":")[-1] for c in mocks.calls}
    assert {"getRegistry", "getVault", "getClientConfig", "listManagedClusterUserCredentials"} <= tokens
    assert {c.token: provider_name(c) for c in mocks.calls if c.token.startswith("azure-native:")} == \
        {c.token: "other-subscription" for c in mocks.calls if c.token.startswith("azure-native:")}
    azure = [r for r in mocks.resources if r.custom and r.typ.startswith("azure-native:")]
    assert azure and {provider_name(r) for r in azure} == {"other-subscription"}


@pytest.mark.parametrize("given", [str, later])
def test_buildkit_logs_into_the_registry_host_whether_the_registry_is_known_now_or_later(tmp_path: Path,
                                                                                         given) -> None:
    mocks, _ = run(lambda: ImageBuilds("images", {
        "spec": kubernetes_onnx_spec(), "registry": given("myacr.azurecr.io/team"), "build_dir": str(tmp_path),
        "registry_username": "pusher", "registry_password": "token"}))
    images = mocks.of_type("docker-build:index:Image")
    assert images and all(plain(i.inputs["registries"])[0]["address"] == "myacr.azurecr.io" for i in images)
    assert all(tag.startswith("myacr.azurecr.io/team/") for i in images for tag in i.inputs["tags"])


@pytest.mark.parametrize(("arg", "value", "field"), [
    ("namespace", "kube-system", "targets.kubernetes.namespace"),
    ("namespace", "Bad_NS-5e1f", "targets.kubernetes.namespace"),
    ("registry", "HTTP://Bad-5e1f", "targets.docker.registry"),
])
def test_output_valued_inputs_meet_the_rules_plain_ones_do_once_they_resolve(tmp_path: Path, arg: str, value: str,
                                                                            field: str) -> None:
    def deploy(given: Any) -> None:
        SlmDeployment("phi4", {"spec": kubernetes_onnx_spec(), arg: given, "build_dir": str(tmp_path),
                               "secret_values": {"secret-api-keys": "k"}})

    with pytest.raises(Exception, match=field) as plain_error:
        run(lambda: deploy(value))
    with pytest.raises(Exception, match=rf"args\['{arg}'\] resolved to a value the spec does not allow") as raised:
        run(lambda: deploy(later(value)))
    assert field in str(raised.value)
    assert value not in str(raised.value) and value not in str(plain_error.value)


@pytest.mark.parametrize("ref", [
    "registry.example.com/slm/phi4-onnx-gateway:latest",
    "evil.example/gw:latest@sha256:" + "a" * 64,
    "registry.example.com/slm/phi4-onnx-gateway:src-0123",
    "registry.example.com/slm/phi4-onnx-gateway@sha256:short",
    "@sha256:" + "a" * 64,  # a digest with no name: nothing can pull it
])
def test_workloads_refuse_built_images_not_pinned_by_digest(ref: str) -> None:
    def program() -> None:
        pinned = "registry.example.com/slm/phi4-onnx:src-1@sha256:" + "b" * 64
        KubernetesWorkloads("workloads", {"spec": kubernetes_onnx_spec(), "secret_values": {"secret-api-keys": "k"},
                                          "images": {"phi4-onnx": pinned, "phi4-onnx-gateway": ref,
                                                     "phi4-onnx-egress-proxy": pinned}})

    with pytest.raises(Exception, match=r"args\['images'\] for service phi4-onnx-gateway is not pinned by digest") \
            as raised:
        run(program)
    assert ref not in str(raised.value)


def test_autoscaling_on_managed_prometheus_without_its_endpoint_and_identity_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"needs args\['prometheus_query_endpoint'\].*args\['keda_client_id'\]"):
        run(lambda: composed_on_aks(tmp_path, aks_spec(), key_vault_client_id="kv-client-id",
                                    key_vault_names=VAULT_NAMES))


def test_workloads_refuse_to_mount_a_created_vault_under_its_unscoped_name(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"needs args\['key_vault_names'\] \(KeyVaultSecrets' vault_names\)"):
        run(lambda: composed_on_aks(tmp_path, aks_spec(), key_vault_client_id="kv-client-id",
                                    prometheus_query_endpoint="https://amw.example/", keda_client_id="keda"))


def test_managed_monitoring_composed_by_hand_binds_keda_to_the_workspace(tmp_path: Path) -> None:
    from slm_deploy.aks_monitoring import AksManagedMonitoring

    spec = aks_spec()

    def program() -> None:
        cluster = AksCluster("cluster", {"spec": spec})
        monitoring = AksManagedMonitoring("monitoring", {
            "spec": spec, "resource_group_name": cluster.resource_group_name, "cluster_name": cluster.cluster_name,
            "monitor_workspace_id": cluster.monitor_workspace_id, "oidc_issuer_url": cluster.oidc_issuer_url})
        images = ImageBuilds("images", {"spec": spec, "build_dir": str(tmp_path)})
        KubernetesWorkloads("workloads", {
            "spec": spec, "images": images.images, "secret_values": secret_values(spec),
            "kubernetes_provider": cluster.kubernetes_provider, "key_vault_client_id": "kv-client-id", "key_vault_names": VAULT_NAMES,
            "prometheus_query_endpoint": cluster.prometheus_query_endpoint,
            "keda_client_id": monitoring.keda_client_id})

    mocks, _ = run(program)
    assert ".invalid" not in repr([r.inputs for r in kubernetes_objects(mocks)])
    (scaled,) = [r.inputs for r in mocks.resources if r.inputs.get("kind") == "ScaledObject"]
    assert {t["metadata"]["serverAddress"] for t in scaled["spec"]["triggers"]} == \
        {"https://cluster-prometheus.westeurope.prometheus.monitor.azure.com"}
    (auth,) = [r.inputs for r in mocks.resources if r.inputs.get("kind") == "TriggerAuthentication"]
    assert auth["spec"]["podIdentity"]["identityId"] == "monitoring-keda-client-id"
    assert mocks.of_type("azure-native:alertsmanagement:PrometheusRuleGroup")
    (federation,) = mocks.of_type("azure-native:managedidentity:FederatedIdentityCredential")
    assert federation.inputs["issuer"].startswith("https://")


def test_a_provider_passed_through_the_component_provider_host_reaches_every_child() -> None:
    """What a YAML or TypeScript program's `kubernetesProvider: ${cluster.kubernetesProvider}` reaches."""
    import pulumi_kubernetes as k8s

    from slm_deploy.public import component_provider

    def program() -> None:
        cluster = k8s.Provider("their-cluster", kubeconfig="kubeconfig")
        component_provider().construct("add-ons", "slm-deploy:index:AksAddOns",
                                       {"spec": aks_spec(), "kubernetesProvider": cluster})

    mocks, _ = run(program)
    objects = kubernetes_objects(mocks)
    assert objects and {provider_name(r) for r in objects} == {"their-cluster"}


def test_workloads_refuse_vault_names_that_leave_out_a_vault_of_the_spec(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"args\['key_vault_names'\] has no entry for the spec's vault kv-slm-phi4"):
        run(lambda: composed_on_aks(tmp_path, aks_spec(), key_vault_client_id="kv-client-id", key_vault_names={},
                                    prometheus_query_endpoint="https://amw.example/", keda_client_id="keda"))
