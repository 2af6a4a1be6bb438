"""SlmDeployment's image builds under Pulumi mocks: contexts on disk, tags, push, secrets, digest-pinned pulls."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from slm_deploy.image_builds import write_context
from slm_deploy.image_pinning import pin_built_images
from slm_deploy.render.images import build_context, build_owners, built_image
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import Deployment, parse_deployment
from slm_deploy.errors import SpecError
from slm_deploy.stack_settings import AksEncryption, RegistryLogin, StackSettings, read_settings
from tests.conftest import ROOT

IMAGE = "docker-build:index:Image"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The marker Pulumi's wire format puts on secret values (pulumi.runtime.rpc._special_sig_key)."""

AKS_KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config",
    "clusters": [{"name": "aks", "cluster": {"server": "https://aks.example.invalid:443"}}],
    "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "clusterUser"}}],
    "current-context": "aks",
    "users": [{"name": "clusterUser", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
        "args": ["get-token", "--login", "devicecode", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630",
                 "--environment", "AzurePublicCloud"]}}}],
}
"""The shape of the exec-format user kubeconfig AKS returns for Entra ID clusters."""


REGISTRY_SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-0000000000ac"
"""The subscription mocked registries live in (getRegistry answers with ids under it)."""


OIDC_ISSUER = "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/0a1b2c3d/"
"""The issuer URL the mocked cluster reports (oidcIssuerProfile.issuerURL)."""


def vault_id(group: str, name: str) -> str:
    """A Key Vault's ARM id in the mocked subscription."""
    return f"{REGISTRY_SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"


def canary_value(name: str) -> str:
    """A distinctive value for one secret, so any copy of it outside a secret is found by search."""
    return f"canary-{name}-7f3c9a1e5b2d4e6f8a0c"


def mocked_ref(name: str) -> str:
    """What a pushed image's `ref` looks like: its first tag pinned to a digest."""
    return f"{name}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


class ComponentMocks(pulumi.runtime.Mocks):
    """Records registrations; Images report a ref, clusters their name, the credentials call a kubeconfig."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        state = dict(args.inputs)
        if args.typ == IMAGE:
            state["ref"] = mocked_ref(plain(args.inputs["tags"])[0])
            state["digest"] = state["ref"].split("@", 1)[1]
        if args.typ == "azure-native:resources:ResourceGroup":
            state["name"] = args.inputs.get("resourceGroupName", f"{args.name}0a1b2c")  # auto-named otherwise
        if args.typ == "azure-native:monitor:AzureMonitorWorkspace":  # Azure reports the query endpoint it made
            state["metrics"] = {"prometheusQueryEndpoint": f"https://{args.name}.westeurope.prometheus.monitor.azure.com",
                                "internalId": "internal"}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state.update(name=args.name, clientId=f"{args.name}-client-id", principalId=f"{args.name}-principal-id",
                         tenantId="t")
        if args.typ == "azure-native:containerservice:ManagedCluster":
            state["name"] = args.inputs["resourceName"]
            state["oidcIssuerProfile"] = {"enabled": True, "issuerURL": "https://oidc.example/issuer/"}
            state["identityProfile"] = {"kubeletidentity": {"objectId": f"{args.name}-kubelet-object-id",
                                                            "clientId": f"{args.name}-kubelet-client-id"}}
            state["oidcIssuerProfile"] = {**args.inputs["oidcIssuerProfile"], "issuerURL": OIDC_ISSUER}
            identities = args.inputs["identity"].get("userAssignedIdentities")
            if identities:  # ARM answers with a map keyed by identity id, as the SDK's output type expects
                state["identity"] = {**args.inputs["identity"], "userAssignedIdentities": {i: {} for i in identities}}
        if args.typ == "azure-native:keyvault:Vault":
            return vault_id(args.inputs["resourceGroupName"], args.inputs["vaultName"]), state
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state.update(clientId=f"{args.name}-client-id", principalId=f"{args.name}-principal-id")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        self.calls.append(args)
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            value = base64.b64encode(yaml.safe_dump(AKS_KUBECONFIG).encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []
        if args.token == "azure-native:authorization:getClientConfig":  # the signed-in identity's subscription
            return {"subscriptionId": REGISTRY_SUBSCRIPTION.rsplit("/", 1)[1], "tenantId": "tenant",
                    "clientId": "client", "objectId": "object"}, []
        if args.token == "azure-native:containerregistry:getRegistry":
            group, name = args.args["resourceGroupName"], args.args["registryName"]
            return {"id": f"{REGISTRY_SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/"
                          f"registries/{name}", "name": name, "loginServer": f"{name}.azurecr.io"}, []
        if args.token == "azure-native:keyvault:getVault":
            return {"id": vault_id(args.args["resourceGroupName"], args.args["vaultName"]),
                    "name": args.args["vaultName"]}, []
        return {}, []

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        """Registered resources of one type token, in registration order."""
        return [r for r in self.resources if r.typ == typ]


def scoped(base: str) -> str:
    """The pattern of a physical Azure name scoped to its stack and component: the base, then six hex digits."""
    return re.escape(base) + "-[0-9a-f]{6}"


def created_group(mocks: ComponentMocks) -> str:
    """The name of the one resource group the program creates."""
    (group,) = [r.inputs["resourceGroupName"] for r in mocks.of_type("azure-native:resources:ResourceGroup")]
    return group


def plain(value: Any) -> Any:
    """A mocked input with Pulumi's secret wrappers removed."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    """Whether a mocked input travelled as a Pulumi secret."""
    return isinstance(value, dict) and SECRET_SIG in value


def stack_spec(stack: str) -> dict[str, Any]:
    """The deployment mapping of an example stack, as a copy a test may change."""
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    return copy.deepcopy(config["slm-deploy:deployment"])


def run_component(deployment: Deployment, settings: StackSettings | Callable[[], StackSettings],
                  stack: str = "test", check=None, config: dict[str, str] | None = None) -> ComponentMocks:
    """Create SlmDeployment under fresh mocks; settings holding Outputs must come from a callable (one loop).
    The stack config holds a canary value for every declared secret unless `config` replaces it."""
    mocks = ComponentMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())  # other tests may have closed the default loop
    pulumi.runtime.set_mocks(mocks, project="slm-deploy", stack=stack, preview=False)
    pulumi.runtime.set_all_config(config if config is not None else
                                  {f"slm-deploy:secret-{n}": canary_value(n) for n in deployment.spec.secrets})

    @pulumi.runtime.test
    def program():
        from slm_deploy.program import stack_args
        from slm_deploy.stack import SlmDeployment
        given = settings() if callable(settings) else settings
        component = SlmDeployment(deployment.spec.name, stack_args(deployment, given, pulumi.Config("slm-deploy")))
        return check(component) if check else None

    program()
    return mocks


def containers(manifest_inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container and init container of a workload's mocked inputs."""
    pod = manifest_inputs["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_onnx_edge_builds_each_owner_from_its_rendered_context_and_loads_it_locally(tmp_path: Path) -> None:
    deployment = parse_deployment(stack_spec("phi4-onnx-edge"))
    owners = build_owners(plan_deployment(deployment))
    mocks = run_component(deployment, StackSettings(work_dir=tmp_path))
    images = {r.name: r.inputs for r in mocks.of_type(IMAGE)}
    assert sorted(images) == sorted(f"phi4-onnx-images-{o.name}" for o in owners)
    assert len(owners) >= 2  # the ONNX server and the gateway
    for owner in owners:
        inputs = images[f"phi4-onnx-images-{owner.name}"]
        context = build_context(deployment, owner)
        directory = tmp_path / "docker" / owner.name
        assert inputs["context"] == {"location": str(directory)}
        on_disk = {str(p.relative_to(directory)): p.read_text(encoding="utf-8")
                   for p in directory.rglob("*") if p.is_file()}
        assert on_disk == context
        assert inputs["dockerfile"] == {"inline": context["Dockerfile"]}
        assert inputs["tags"] == [built_image(deployment, owner)]
        assert inputs["tags"][0].startswith(f"slm-deploy/{owner.name}:src-")
        assert inputs["push"] is False and inputs["load"] is True
        assert "registries" not in inputs and "secrets" not in inputs
        assert inputs["platforms"] == ["linux/amd64"]
    assert mocks.of_type("kubernetes:apps/v1:Deployment") == []


def test_a_registry_turns_on_push_with_extra_tags_credentials_and_the_ca_bundle_as_secrets(tmp_path: Path) -> None:
    spec = stack_spec("phi4-onnx-edge")
    spec["targets"]["docker"] = {"registry": "registry.example.com/team", "repository": "slm", "tags": ["stable"]}
    deployment = parse_deployment(spec)
    def settings() -> StackSettings:
        return StackSettings(work_dir=tmp_path,
                             registry_login=RegistryLogin("pusher", pulumi.Output.secret("registry-password-1")),
                             ca_bundle=pulumi.Output.secret("-----BEGIN CERTIFICATE-----\nMIIB\n"))

    mocks = run_component(deployment, settings)
    images = mocks.of_type(IMAGE)
    assert images
    for image in images:
        inputs = image.inputs
        first = inputs["tags"][0]
        assert first.startswith("registry.example.com/team/slm/") and ":src-" in first
        assert inputs["tags"] == [first, first.rsplit(":", 1)[0] + ":stable"]
        assert inputs["push"] is True and inputs["load"] is False
        assert is_secret(inputs["registries"])  # the password makes the whole list secret on the wire
        assert plain(inputs["registries"]) == [{"address": "registry.example.com", "username": "pusher",
                                                "password": "registry-password-1"}]
        assert is_secret(inputs["secrets"])
        assert plain(inputs["secrets"]) == {"ca_bundle": "-----BEGIN CERTIFICATE-----\nMIIB\n"}
    component = next(r for r in mocks.resources if r.typ == "slm-deploy:index:SlmDeployment")
    assert "registry-password-1" not in repr(component.inputs)


def kubernetes_onnx_spec() -> dict[str, Any]:
    """The ONNX example moved to a cluster: its server and gateway exist only as images slm-deploy builds."""
    spec = stack_spec("phi4-onnx-edge")
    spec["targets"] = {"docker": {"registry": "registry.example.com", "repository": "slm"},
                       "kubernetes": {"namespace": "phi4-onnx"}}
    spec["secrets"] = {"api-keys": {"backend": "kubernetes"}}
    spec.pop("monitoring")  # the example's webhook token is for its Compose Alertmanager
    return spec


def test_the_cluster_pulls_each_built_image_by_the_digest_pulumi_pushed(tmp_path: Path) -> None:
    deployment = parse_deployment(kubernetes_onnx_spec())
    owners = build_owners(plan_deployment(deployment))
    built = {built_image(deployment, o) for o in owners}
    seen: dict[str, Any] = {}

    def check(component):
        return pulumi.Output.all(component.images, component.namespace, component.gateway_service,
                                 component.endpoint_url).apply(
            lambda v: seen.update(refs=v[0], namespace=v[1], gateway=v[2], endpoint=v[3]))

    mocks = run_component(deployment, StackSettings(work_dir=tmp_path), check=check)
    workloads = mocks.of_type("kubernetes:apps/v1:Deployment") + mocks.of_type("kubernetes:batch/v1:Job")
    images = [c["image"] for w in workloads for c in containers(w.inputs)]
    assert images, "the spec should render workloads"
    assert not set(images) & built, "a container still pulls a mutable src- tag"
    assert set(images) <= {mocked_ref(name) for name in built} | {i for i in images if "@sha256:" in i}
    assert {mocked_ref(name) for name in built} & set(images)
    assert seen["refs"] == {o.name: mocked_ref(built_image(deployment, o)) for o in owners}
    assert seen["namespace"] == "phi4-onnx"
    assert seen["gateway"] == "phi4-onnx-gateway"
    assert seen["endpoint"] == "http://phi4-onnx-gateway.phi4-onnx.svc.cluster.local:8080"


def test_building_twice_leaves_unchanged_context_files_untouched(tmp_path: Path) -> None:
    write_context(tmp_path, {"Dockerfile": "FROM scratch\n", "app/main.py": "print(1)\n"})
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    write_context(tmp_path, {"Dockerfile": "FROM scratch\n", "app/main.py": "print(2)\n"})
    assert (tmp_path / "Dockerfile").stat().st_mtime_ns == before["Dockerfile"]
    assert (tmp_path / "app" / "main.py").read_text() == "print(2)\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["Dockerfile", "main.py"]


def test_pinning_replaces_only_exact_built_names_and_leaves_the_rendered_objects_alone() -> None:
    manifest = {"kind": "Deployment", "spec": {"containers": [
        {"image": "r/slm/a:src-1"}, {"image": "docker.io/x@sha256:" + "0" * 64}, {"args": ["r/slm/a:src-1x"]}]}}
    pinned = pin_built_images([manifest], {"r/slm/a:src-1": "r/slm/a:src-1@sha256:" + "f" * 64})
    assert pinned[0]["spec"]["containers"][0]["image"] == "r/slm/a:src-1@sha256:" + "f" * 64
    assert pinned[0]["spec"]["containers"][1:] == manifest["spec"]["containers"][1:]
    assert manifest["spec"]["containers"][0]["image"] == "r/slm/a:src-1"


def test_a_compose_only_stack_without_a_docker_target_builds_nothing(tmp_path: Path) -> None:
    spec = stack_spec("phi4-onnx-edge")
    spec["targets"] = {"compose": {}}
    mocks = run_component(parse_deployment(spec), StackSettings(work_dir=tmp_path))
    assert mocks.of_type(IMAGE) == []
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("target", ["aks", "kubernetes"])
def test_an_undeployable_spec_fails_the_program_with_the_field_path(tmp_path: Path, target: str) -> None:
    spec = kubernetes_onnx_spec()
    spec["targets"]["docker"] = {}  # a cluster cannot pull a build with no registry to push it to
    if target == "aks":
        spec["targets"]["aks"] = {"private_cluster": True, "system_vm_size": "Standard_D8ds_v5"}
    deployment = parse_deployment(spec)
    if target == "aks":
        pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")
    with pytest.raises(pulumi.RunError, match="targets.docker.registry"):
        run_component(deployment, StackSettings(work_dir=tmp_path))


def read_config(values: dict[str, str], tmp_path: Path) -> StackSettings:
    """read_settings over a stack config given as the CLI would store it (JSON strings for objects)."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(ComponentMocks(), project="slm-deploy", stack="edge", preview=False)
    pulumi.runtime.set_all_config({f"slm-deploy:{k}": v for k, v in values.items()},
                                  secret_keys=["slm-deploy:registryPassword"])
    return read_settings(pulumi.Config("slm-deploy"), "edge")


def test_operator_settings_default_to_a_per_stack_work_dir_and_amd64(tmp_path: Path) -> None:
    settings = read_config({}, tmp_path)
    assert settings.work_dir == Path(".slm-deploy/edge") and settings.platforms == ("linux/amd64",)
    assert settings.registry_login is None and settings.ca_bundle is None and settings.aks_encryption is None
    assert settings.kubelogin_mode == "azurecli"


@pytest.mark.parametrize(("values", "field"), [
    ({"registryUsername": "pusher"}, "registryUsername"),
    ({"kubeloginMode": "password"}, "kubeloginMode"),
    ({"aksEncryption": json.dumps({"kmsKeyId": "https://kv/keys/k/1"})}, "aksEncryption"),
])
def test_incomplete_operator_settings_are_refused_by_key(tmp_path: Path, values: dict, field: str) -> None:
    with pytest.raises(SpecError, match=f"slm-deploy:{field}"):
        read_config(values, tmp_path)


def test_encryption_ids_and_the_ca_bundle_file_are_read(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    ids = {"kmsKeyId": "https://kv.vault.azure.net/keys/etcd/1", "keyVaultResourceId": "/sub/kv",
           "diskEncryptionSetId": "/sub/des", "identityId": "/sub/id"}
    settings = read_config({"caBundle": str(bundle), "aksEncryption": json.dumps(ids),
                            "platforms": json.dumps(["linux/amd64", "linux/arm64"])}, tmp_path)
    assert settings.aks_encryption == AksEncryption("https://kv.vault.azure.net/keys/etcd/1", "/sub/kv",
                                                    "/sub/des", "/sub/id")
    assert settings.platforms == ("linux/amd64", "linux/arm64")
    loop = asyncio.get_event_loop()
    assert loop.run_until_complete(settings.ca_bundle.future()) == "-----BEGIN CERTIFICATE-----\n"
    assert loop.run_until_complete(settings.ca_bundle.is_secret()) is True
