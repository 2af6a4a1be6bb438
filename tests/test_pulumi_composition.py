"""The components in a program of one's own, under Pulumi mocks: several deployments side by side, Output-valued
inputs, every child parented by its component, and built images pulled by digest whichever components are used."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from slm_deploy.image_builds import ImageBuilds
from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.stack import SlmDeployment
from tests.test_pulumi_components import ComponentMocks, containers, kubernetes_onnx_spec

IMAGE = "docker-build:index:Image"
WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")


class Registrations:
    """Every URN the mock monitor hands out, with the parent it was registered under."""

    def __init__(self) -> None:
        self.urns: list[str] = []
        self.parents: dict[str, str] = {}

    def watch(self) -> None:
        monitor = pulumi.runtime.settings.get_monitor()
        make_urn = monitor.make_urn

        def recording(parent: str, type_: str, name: str) -> str:
            urn = make_urn(parent, type_, name)
            self.urns.append(urn)
            self.parents[urn] = parent
            return urn

        monitor.make_urn = recording

    def duplicates(self) -> list[str]:
        return sorted({urn for urn in self.urns if self.urns.count(urn) > 1})


def run(program: Callable[[], Any], stack: str = "test") -> tuple[ComponentMocks, Registrations]:
    """Run `program` under fresh mocks, recording every registration."""
    mocks, registrations = ComponentMocks(), Registrations()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="composed", stack=stack, preview=False)
    registrations.watch()
    pulumi.runtime.test(program)()
    return mocks, registrations


def second_spec() -> dict[str, Any]:
    """Another deployment of the same model under another name, without monitoring (a Prometheus operator of its
    own in `existing` mode would sit in the namespace where the first bundles its stack, which is refused)."""
    spec = kubernetes_onnx_spec()
    spec["name"] = "phi4-second"
    spec["targets"]["kubernetes"]["namespace"] = "phi4-second"
    spec["monitoring"] = {"enabled": False}
    return spec


def pulled_images(mocks: ComponentMocks) -> list[str]:
    return [c["image"] for typ in WORKLOAD_TYPES for w in mocks.of_type(typ) for c in containers(w.inputs)]


def assert_pinned(mocks: ComponentMocks) -> None:
    images = pulled_images(mocks)
    assert images and all("@sha256:" in image for image in images), images
    assert not [i for i in images if ":src-" in i and "@" not in i]


def assert_parented(registrations: Registrations, top_level: set[str]) -> None:
    """Every registration but the program's own resources sits under an slm-deploy component."""
    for urn, parent in registrations.parents.items():
        if urn.rsplit("::", 1)[1] in top_level:
            continue
        assert parent and parent.split("::")[2].split("$")[-1].startswith("slm-deploy:"), urn


def test_two_deployments_share_one_namespace_and_one_spec_runs_on_two_clusters(tmp_path: Path) -> None:
    def program() -> None:
        first, second = kubernetes_onnx_spec(), second_spec()
        shared = k8s.core.v1.Namespace("shared", metadata={"name": "models"})
        east = k8s.Provider("east", kubeconfig="east-kubeconfig")
        west = k8s.Provider("west", kubeconfig="west-kubeconfig")
        common = {"build_dir": str(tmp_path), "secret_values": {"secret-api-keys": "k"}}
        SlmDeployment("first", {"spec": first, "namespace": shared.metadata.name, "kubernetes_provider": east,
                                **common})
        SlmDeployment("second", {"spec": second, "namespace": shared.metadata.name, "kubernetes_provider": east,
                                 **common})
        SlmDeployment("first-west", {"spec": first, "kubernetes_provider": west, **common})

    mocks, registrations = run(program)
    assert registrations.duplicates() == []
    assert_parented(registrations, {"shared", "east", "west", "first", "second", "first-west", "composed-test"})
    namespaces = [r.inputs["metadata"]["name"] for r in mocks.of_type("kubernetes:core/v1:Namespace")]
    assert namespaces.count("models") == 1  # the program's own; the deployments use it
    in_models = [r for r in mocks.resources if r.custom and r.typ.startswith("kubernetes:")
                 and r.inputs.get("metadata", {}).get("namespace") == "models"]
    assert {r.inputs["metadata"]["name"] for r in in_models} >= {"phi4-onnx-gateway", "phi4-second-gateway"}
    west_objects = [r for r in mocks.resources if r.provider and r.provider.split("::")[-2] == "west"]
    in_west = {r.inputs["metadata"].get("namespace") for r in west_objects
               if r.typ.split(":")[1] not in ("core/v1", "helm.sh/v3") or r.typ.endswith((":Service", ":ConfigMap"))}
    assert west_objects and in_west == {"phi4-onnx", "monitoring"}  # the spec's namespaces, not the shared one
    east_prometheus = [r for r in mocks.of_type("kubernetes:apps/v1:StatefulSet") if r.provider.split("::")[-2] == "east"
                       and r.inputs["metadata"]["name"].endswith("-prometheus")]
    assert len(east_prometheus) == 1  # the first deployment's bundled stack; the second has none
    assert_pinned(mocks)


def test_a_registry_and_namespace_known_only_as_outputs_reach_every_string_that_names_them(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def program() -> Any:
        namespace = k8s.core.v1.Namespace("team", metadata={"name": "team-models"})
        registry = pulumi.Output.from_input("acr0a1b.azurecr.io").apply(lambda host: host)  # e.g. an ACR's loginServer
        deployment = SlmDeployment("phi4", {"spec": kubernetes_onnx_spec(), "registry": registry,
                                            "namespace": namespace.metadata.name, "build_dir": str(tmp_path),
                                            "secret_values": {"secret-api-keys": "k"}})
        return pulumi.Output.all(deployment.endpoint_url, deployment.namespace, deployment.images).apply(
            lambda v: seen.update(endpoint=v[0], namespace=v[1], images=v[2]))

    mocks, _ = run(program)
    tags = [tag for image in mocks.of_type(IMAGE) for tag in image.inputs["tags"]]
    assert tags and all(tag.startswith("acr0a1b.azurecr.io/slm/") for tag in tags)
    text = repr([r.inputs for r in mocks.resources])
    assert "pending" not in text  # no placeholder reached a resource
    assert seen["namespace"] == "team-models"
    assert seen["endpoint"] == "http://phi4-onnx-gateway.team-models.svc.cluster.local:8080"
    assert all(ref.startswith("acr0a1b.azurecr.io/slm/") and "@sha256:" in ref for ref in seen["images"].values())
    assert all(image.startswith("acr0a1b.azurecr.io/") for image in pulled_images(mocks) if ":src-" in image)
    assert_pinned(mocks)


def test_images_and_workloads_composed_by_hand_pull_what_was_built_by_digest(tmp_path: Path) -> None:
    def program() -> None:
        spec = kubernetes_onnx_spec()
        images = ImageBuilds("images", {"spec": spec, "build_dir": str(tmp_path)})
        KubernetesWorkloads("workloads", {"spec": spec, "images": images.images,
                                          "secret_values": {"secret-api-keys": "k"}})

    mocks, registrations = run(program)
    assert registrations.duplicates() == []
    assert_parented(registrations, {"images", "workloads", "composed-test"})
    assert_pinned(mocks)


def test_workloads_alone_refuse_to_run_images_nobody_built() -> None:
    def program() -> None:
        KubernetesWorkloads("workloads", {"spec": kubernetes_onnx_spec(), "secret_values": {"secret-api-keys": "k"}})

    with pytest.raises(Exception, match=r"needs args\['images'\].*gateway"):
        run(program)


@pytest.mark.parametrize("args, message", [
    ("phi4", "must be a mapping"),
    ({"spec": None}, r"needs args\['spec'\]"),
    ({"spec": {}, "regsitry": "x"}, "unknown args regsitry; allowed: "),
])
def test_args_of_the_wrong_shape_fail_with_one_clear_type_error(args: Any, message: str) -> None:
    def program() -> None:
        SlmDeployment("x", args)

    with pytest.raises(TypeError, match=message):
        run(program)


def test_a_typed_args_dict_and_a_plain_dict_deploy_the_same_objects(tmp_path: Path) -> None:
    from slm_deploy.stack import SlmDeploymentArgs

    def objects(make_args: Callable[[], Any]) -> list[tuple[str, str]]:
        mocks, _ = run(lambda: SlmDeployment("same", make_args()))
        return sorted((r.typ, r.name) for r in mocks.resources)

    plain = {"spec": kubernetes_onnx_spec(), "build_dir": str(tmp_path), "secret_values": {"secret-api-keys": "k"}}
    typed = lambda: SlmDeploymentArgs(spec=kubernetes_onnx_spec(), build_dir=str(tmp_path),  # noqa: E731
                                      secret_values={"secret-api-keys": "k"})
    assert objects(lambda: plain) == objects(typed)


def test_a_registry_given_as_an_arg_is_the_one_the_new_cluster_may_pull_from(tmp_path: Path) -> None:
    from tests.test_pulumi_components import stack_spec

    spec = stack_spec("phi4-vllm-aks")

    def program() -> None:
        SlmDeployment("phi4", {"spec": spec, "registry": "otherreg.azurecr.io/slm", "build_dir": str(tmp_path),
                               "secret_values": {f"secret-{name}": "v" for name in spec.get("secrets", {})}})

    mocks, registrations = run(program)
    lookups = [c.args["registryName"] for c in mocks.calls if c.token.endswith("getRegistry")]
    assert lookups == ["otherreg"]
    tags = [tag for image in mocks.of_type(IMAGE) for tag in image.inputs["tags"]]
    assert tags and all(tag.startswith("otherreg.azurecr.io/slm/") for tag in tags)
    assert registrations.duplicates() == []


AZURE_NAMES = {"azure-native:resources:ResourceGroup": ("resourceGroupName", r"^[-\w._()]{1,89}[-\w_()]$"),
               "azure-native:containerservice:ManagedCluster": ("resourceName", r"^[A-Za-z0-9][-\w]{0,61}[A-Za-z0-9]$"),
               "azure-native:keyvault:Vault": ("vaultName", r"^[A-Za-z](-?[A-Za-z0-9]){2,23}$")}
"""Azure's naming rules for the resources whose names a spec decides (Key Vault's are global)."""


def azure_names(mocks: ComponentMocks) -> dict[str, list[str]]:
    return {typ: [r.inputs[key] for r in mocks.of_type(typ)] for typ, (key, _) in AZURE_NAMES.items()}


def aks_twice(tmp_path: Path, names: tuple[str, ...], stack: str) -> ComponentMocks:
    """The AKS example deployed once per component name, in one program of the given stack."""
    from tests.test_pulumi_components import stack_spec

    spec = stack_spec("phi4-vllm-aks")

    def program() -> None:
        for name in names:
            SlmDeployment(name, {"spec": spec, "build_dir": str(tmp_path / name),
                                 "secret_values": {f"secret-{s}": "v" for s in spec.get("secrets", {})}})

    mocks, registrations = run(program, stack=stack)
    assert registrations.duplicates() == []
    return mocks


def test_one_aks_spec_deployed_twice_asks_azure_for_different_names_that_azure_accepts(tmp_path: Path) -> None:
    pytest.importorskip("pulumi_azure_native")
    in_one_program = azure_names(aks_twice(tmp_path, ("east", "west"), "prod"))
    dev, prod = (azure_names(aks_twice(tmp_path, ("phi4-mini",), stack)) for stack in ("dev", "prod"))
    again = azure_names(aks_twice(tmp_path, ("phi4-mini",), "prod"))
    assert again == prod  # deterministic: the same stack and component keep their names
    for typ, (_, rule) in AZURE_NAMES.items():
        every = in_one_program[typ] + dev[typ] + prod[typ]
        assert len(every) == 4 and len(set(every)) == 4, (typ, every)
        assert all(re.match(rule, name) and "--" not in name for name in every), every
    assert all(name.startswith("rg-slm-phi4-") for name in prod["azure-native:resources:ResourceGroup"])
    assert all(name.startswith("kv-slm-phi4-") for name in prod["azure-native:keyvault:Vault"])


def test_the_pods_mount_from_the_vault_azure_created_under_its_scoped_name(tmp_path: Path) -> None:
    pytest.importorskip("pulumi_azure_native")
    mocks = aks_twice(tmp_path, ("east", "west"), "prod")
    created = {r.name.split("-")[0]: r.inputs["vaultName"] for r in mocks.of_type("azure-native:keyvault:Vault")}
    written = {r.name.split("-")[0]: r.inputs["vaultName"] for r in mocks.of_type("azure-native:keyvault:Secret")}
    mounted = {r.name.split("-")[0]: r.inputs["spec"]["parameters"]["keyvaultName"]
               for r in mocks.of_type("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass")}
    assert created == written == mounted and set(created) == {"east", "west"}


def test_monitoring_alone_asks_only_for_the_secrets_its_own_pods_mount() -> None:
    from slm_deploy.monitoring_stack import MonitoringStack

    mocks, _ = run(lambda: MonitoringStack("monitoring", {"spec": kubernetes_onnx_spec()}))
    assert len(mocks.of_type("kubernetes:apps/v1:StatefulSet")) == 2  # Prometheus and Alertmanager
    assert mocks.of_type("kubernetes:core/v1:Secret") == []  # the gateway's api-keys are the workloads' to write


def test_monitoring_alone_still_refuses_a_missing_secret_grafana_mounts() -> None:
    from slm_deploy.monitoring_stack import MonitoringStack
    from tests.secret_stores.cases import CASES

    spec = CASES["kubernetes-monitoring"]
    only_grafana = {"secret-oncall-token": "t"}  # neither the api keys nor the Hugging Face token: not its pods'
    with pytest.raises(Exception, match=r"secret-grafana-admin-password") as raised:
        run(lambda: MonitoringStack("monitoring", {"spec": spec, "secret_values": only_grafana}))
    assert "api-keys" not in str(raised.value) and "hf-token" not in str(raised.value)
    mocks, _ = run(lambda: MonitoringStack("monitoring", {"spec": spec, "secret_values": {
        **only_grafana, "secret-grafana-admin-password": "p"}}))
    secrets = {r.inputs["metadata"]["name"] for r in mocks.of_type("kubernetes:core/v1:Secret")}
    assert len(secrets) == 2 and all("api-keys" not in name for name in secrets)


@pytest.mark.parametrize("second", [KubernetesWorkloads, SlmDeployment])
def test_a_component_named_like_another_ones_child_is_refused_naming_both(tmp_path: Path, second: type) -> None:
    def program() -> None:
        images = {"phi4-second": "r.example/s@sha256:" + "1" * 64, "phi4-second-gateway": "r.example/g@sha256:" + "2" * 64,
                  "phi4-second-egress-proxy": "r.example/e@sha256:" + "3" * 64}
        common = {"secret_values": {"secret-api-keys": "k"}}
        SlmDeployment("phi4", {"spec": kubernetes_onnx_spec(), "build_dir": str(tmp_path / "a"), **common})
        if second is KubernetesWorkloads:  # SlmDeployment "phi4" has a KubernetesWorkloads child "phi4-k8s"
            KubernetesWorkloads("phi4-k8s", {"spec": second_spec(), "images": images, **common})
        else:
            SlmDeployment("phi4-k8s", {"spec": second_spec(), "build_dir": str(tmp_path / "b"), **common})

    if second is SlmDeployment:  # its children are phi4-k8s-k8s, phi4-k8s-images, ...: nothing collides
        assert run(program)[1].duplicates() == []
        return
    with pytest.raises(Exception, match=r"two components named KubernetesWorkloads 'phi4-k8s' derive the same name "
                                        r"for a kubernetes:core/v1:\w+ child.*rename one of the two"):
        run(program)
