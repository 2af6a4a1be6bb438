"""The Pulumi program under mocks: every stack registers exactly the Kubernetes objects `render` writes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import ROOT, STACKS, stack_id
from tests.test_pulumi_components import canary_value, vault_id


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration; custom resources echo their inputs as state."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        state = dict(args.inputs)
        if args.typ == "docker-build:index:Image":
            state["ref"] = mocked_ref(args.inputs["tags"][0])
        if args.typ == "azure-native:monitor:AzureMonitorWorkspace":  # Azure reports the workspace's query endpoint
            state["metrics"] = {"prometheusQueryEndpoint": MOCKED_QUERY_ENDPOINT, "internalId": "internal"}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state.update(clientId=MOCKED_CLIENT_ID, principalId=f"{args.name}-principal", tenantId="tenant")
        if args.typ == "azure-native:containerservice:ManagedCluster":  # AKS reports the kubelet identity it made
            state["identityProfile"] = {"kubeletidentity": {"objectId": f"{args.name}-kubelet"}}
            identity = dict(state.get("identity") or {})
            if isinstance(identity.get("userAssignedIdentities"), list):  # inputs list ids; state maps id -> details
                identity["userAssignedIdentities"] = {i: {} for i in identity["userAssignedIdentities"]}
                state["identity"] = identity
        if args.typ == "azure-native:keyvault:Vault":  # role assignments derive the subscription from its id
            return vault_id(args.inputs.get("resourceGroupName", "rg"), args.inputs["vaultName"]), state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            kubeconfig = base64.b64encode(yaml.safe_dump({"apiVersion": "v1", "kind": "Config"}).encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": kubeconfig}]}, []
        if args.token == "azure-native:authorization:getClientConfig":  # the signed-in identity's subscription
            return {"subscriptionId": "0000", "tenantId": "tenant", "clientId": "client", "objectId": "object"}, []
        if args.token == "azure-native:containerregistry:getRegistry":
            return {"id": f"/subscriptions/0000/resourceGroups/{args.args.get('resourceGroupName', 'rg')}/providers/"
                          f"Microsoft.ContainerRegistry/registries/{args.args['registryName']}"}, []
        return {}, []


MOCKED_QUERY_ENDPOINT = "https://amw-mocked.westeurope.prometheus.monitor.azure.com"
MOCKED_CLIENT_ID = "00000000-0000-0000-0000-00000000c1d0"


def as_deployed(obj: dict) -> dict:
    """A rendered object as `pulumi up` creates it: KEDA bound to the managed workspace and identity Azure made."""
    if obj["kind"] == "ScaledObject" and any("authenticationRef" in t for t in obj["spec"]["triggers"]):
        triggers = [{**t, "metadata": {**t["metadata"], "serverAddress": MOCKED_QUERY_ENDPOINT}}
                    for t in obj["spec"]["triggers"]]
        return {**obj, "spec": {**obj["spec"], "triggers": triggers}}
    if obj["kind"] == "TriggerAuthentication":
        return {**obj, "spec": {"podIdentity": {**obj["spec"]["podIdentity"], "identityId": MOCKED_CLIENT_ID}}}
    return obj


def mocked_ref(name: str) -> str:
    """What a pushed image's `ref` looks like: its first tag pinned to a digest."""
    return f"{name}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def numbers_as_floats(value: Any) -> Any:
    """Mocks return numbers as floats (protobuf Struct); compare on that footing."""
    if isinstance(value, bool) or not isinstance(value, (int, float, dict, list)):
        return value
    if isinstance(value, dict):
        return {k: numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(v) for v in value]
    return float(value)


def run_program(stack: Path, work_dir: Path) -> RecordingMocks:
    """Run stacks/__main__.py against the stack's config under fresh mocks (build contexts go to work_dir)."""
    mocks = RecordingMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())  # other tests may have closed the default loop
    pulumi.runtime.set_mocks(mocks, project="slm-deploy", stack=stack_id(stack), preview=False)
    config = yaml.safe_load(stack.read_text(encoding="utf-8"))["config"]
    config["slm-deploy:workDir"] = str(work_dir)
    config.update({f"slm-deploy:secret-{name}": canary_value(name) for name in load_deployment(stack).spec.secrets})
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(ROOT / "stacks" / "__main__.py"), run_name="__main__")

    program()
    return mocks


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_program_registers_every_rendered_kubernetes_object(stack: Path, tmp_path: Path) -> None:
    mocks = run_program(stack, tmp_path)
    built = {r.inputs["tags"][0] for r in mocks.resources if r.typ == "docker-build:index:Image"}
    # kubernetes/smoke/ is applied by people after deploying, as `helm test` runs, never by `pulumi up`
    rendered = [yaml.safe_load(pin_text(text, built)) for path, text in render_bundle(load_deployment(stack)).files.items()
                if path.startswith("kubernetes/") and not path.startswith("kubernetes/smoke/")
                and not path.endswith("kustomization.yaml")]
    registered = {object_key(r): r for r in mocks.resources if r.custom and r.typ.startswith("kubernetes:")
                  and r.typ not in NOT_RENDERED}
    assert "slm-deploy:index:SlmDeployment" in {r.typ for r in mocks.resources if not r.custom}
    assert sorted(registered) == sorted(rendered_key(o) for o in rendered)
    # Azure name of each Key Vault Pulumi creates -> the spec's name for it, which `render` writes
    created = {v.inputs["vaultName"]: v.inputs["vaultName"].rsplit("-", 1)[0]
               for v in mocks.resources if v.typ == "azure-native:keyvault:Vault"}
    for obj in rendered:
        resource = registered[rendered_key(obj)]
        assert numbers_as_floats(as_rendered(resource.inputs, created)) == numbers_as_floats(as_deployed(obj))


NOT_RENDERED = {"kubernetes:core/v1:Secret", "kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes"}
"""Secret values exist only in Pulumi; Helm charts install themselves (the bundle README names them)."""


def object_key(resource: pulumi.runtime.MockResourceArgs) -> tuple[str, str, str]:
    """Kind, namespace and name of a registered Kubernetes object."""
    metadata = resource.inputs.get("metadata", {})
    return resource.typ.rsplit(":", 1)[1], metadata.get("namespace", ""), metadata["name"]


def rendered_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Kind, namespace and name of a rendered object."""
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def as_rendered(inputs: dict[str, Any], created_vaults: dict[str, str]) -> dict[str, Any]:
    """Mocked inputs less what only Pulumi knows: the Key Vault identity's client id (the bundle's kustomization
    fills the same two fields from workload-identity.env), and a created vault's Azure name, scoped to the stack
    and component, which the bundle writes as the spec names it (checked against the Vault resource here)."""
    found = json.loads(json.dumps(dict(inputs)))
    parameters = found.get("spec", {}).get("parameters", {})
    parameters.pop("clientID", None)
    if "keyvaultName" in parameters and parameters["keyvaultName"] in created_vaults:
        parameters["keyvaultName"] = created_vaults[parameters["keyvaultName"]]
    annotations = found.get("metadata", {}).get("annotations", {})
    annotations.pop("azure.workload.identity/client-id", None)
    if "annotations" in found.get("metadata", {}) and not annotations:
        del found["metadata"]["annotations"]
    return found


def pin_text(text: str, built: set[str]) -> str:
    """Rendered YAML with each built image pulled by its mocked digest, as `pulumi up` deploys it."""
    for name in built:
        text = text.replace(f"image: {name}\n", f"image: {mocked_ref(name)}\n")
    return text


def test_invalid_stack_config_fails_with_the_field_path(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(yaml.safe_dump({"config": {"slm-deploy:deployment": {"name": "Bad_Name"}}}), encoding="utf-8")
    with pytest.raises(Exception, match="name"):
        run_program(stack, tmp_path)
