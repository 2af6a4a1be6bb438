"""Pulumi's own component analyzer and provider, run in-process over the public components: the schema that
TypeScript, Go and YAML programs are generated from, and a construct call as the provider host makes it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from slm_deploy import __version__
from slm_deploy.public import component_provider
from tests.test_pulumi_components import ComponentMocks, kubernetes_onnx_spec

EXPECTED = {
    "SlmDeployment": ({"spec"}, {"endpointUrl", "gatewayService", "namespace", "images", "dashboardUrl",
                                 "kubeconfig", "specSha256", "tier", "clusterName", "resourceGroup"}),
    "ImageBuilds": ({"spec", "buildDir"}, {"images"}),
    "KubernetesWorkloads": ({"spec"}, {"endpointUrl", "gatewayService", "namespace"}),
    "AksCluster": ({"spec"}, {"clusterName", "resourceGroupName", "kubeconfig", "kubernetesProvider",
                              "kubeletObjectId", "oidcIssuerUrl", "monitorWorkspaceId", "prometheusQueryEndpoint"}),
    "AksAddOns": ({"spec", "kubernetesProvider"}, set()),
    "AksManagedMonitoring": ({"spec", "resourceGroupName", "clusterName", "monitorWorkspaceId", "oidcIssuerUrl"},
                             {"kedaClientId", "dashboardUrl"}),
    "MonitoringStack": ({"spec"}, {"namespace", "dashboardUrl", "prometheusUrl"}),
    "KeyVaultSecrets": ({"spec", "resourceGroupName", "oidcIssuerUrl"}, {"clientId", "vaultNames"}),
    "SharedNamespace": ({"namespace", "specs"}, {"namespace"}),
}
"""Component -> (required inputs, outputs)."""


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(component_provider().schema)


def test_every_public_component_is_in_the_schema_with_its_required_inputs_and_outputs(schema) -> None:
    assert schema["name"] == "slm-deploy" and schema["version"] == __version__
    resources = schema["resources"]
    assert sorted(resources) == sorted(f"slm-deploy:index:{name}" for name in EXPECTED)
    for name, (required, outputs) in EXPECTED.items():
        resource = resources[f"slm-deploy:index:{name}"]
        assert resource["isComponent"] is True
        assert set(resource.get("requiredInputs", [])) == required, name
        assert set(resource.get("properties", {})) == outputs, name
        assert resource.get("description"), name


def test_inputs_and_outputs_are_typed_not_any(schema) -> None:
    deployment = schema["resources"]["slm-deploy:index:SlmDeployment"]
    inputs, outputs = deployment["inputProperties"], deployment["properties"]
    assert inputs["spec"]["type"] == "object" and inputs["spec"]["plain"] is True  # rendered before anything runs
    assert inputs["spec"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"
    assert inputs["registry"]["type"] == "string" and not inputs["registry"].get("plain")  # may be an Output
    assert inputs["namespace"]["type"] == "string" and not inputs["namespace"].get("plain")
    assert inputs["kubernetesProvider"]["$ref"].endswith("/kubernetes/v4.34.2/schema.json#/resources/"
                                                          "pulumi:providers:kubernetes")
    assert inputs["secretValues"]["type"] == "object"
    assert inputs["secretValues"]["additionalProperties"]["type"] == "string"
    assert inputs["aksEncryption"]["$ref"] == "#/types/slm-deploy:index:AksEncryptionArgs"
    assert outputs["endpointUrl"]["type"] == "string"
    assert outputs["images"]["type"] == "object" and outputs["images"]["additionalProperties"]["type"] == "string"
    encryption = schema["types"]["slm-deploy:index:AksEncryptionArgs"]
    assert set(encryption["required"]) == {"kmsKeyId", "keyVaultResourceId", "diskEncryptionSetId", "identityId"}
    assert schema["dependencies"] == [{"name": "kubernetes", "version": "4.34.2"}]


def test_the_provider_constructs_a_deployment_from_schema_inputs(tmp_path: Path) -> None:
    """What a TypeScript or YAML program's `new SlmDeployment(...)` reaches: camelCase inputs, mapped by Pulumi."""
    mocks = ComponentMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="ts-program", stack="test", preview=False)
    provider = component_provider()

    @pulumi.runtime.test
    def program() -> None:
        provider.construct("phi4", "slm-deploy:index:SlmDeployment",
                           {"spec": kubernetes_onnx_spec(), "buildDir": str(tmp_path),
                            "secretValues": {"secret-api-keys": "k"}})

    program()
    types = {r.typ for r in mocks.resources}
    assert {"slm-deploy:index:SlmDeployment", "slm-deploy:index:ImageBuilds",
            "slm-deploy:index:KubernetesWorkloads", "kubernetes:apps/v1:Deployment"} <= types
    assert (tmp_path / "docker").is_dir()


def test_credentials_are_secret_in_the_schema_and_nothing_else_is(schema) -> None:
    """Generated SDKs keep what the schema marks secret out of previews and plain state."""
    secret = {(name.rsplit(":", 1)[1], section, prop) for name, resource in schema["resources"].items()
              for section in ("inputProperties", "properties")
              for prop, definition in resource.get(section, {}).items() if definition.get("secret")}
    assert secret == {
        ("SlmDeployment", "inputProperties", "registryPassword"), ("SlmDeployment", "inputProperties", "secretValues"),
        ("SlmDeployment", "properties", "kubeconfig"), ("ImageBuilds", "inputProperties", "registryPassword"),
        ("KubernetesWorkloads", "inputProperties", "secretValues"), ("AksCluster", "properties", "kubeconfig"),
        ("MonitoringStack", "inputProperties", "secretValues"), ("KeyVaultSecrets", "inputProperties", "secretValues"),
    }


def test_the_aks_cluster_declares_the_provider_resource_and_what_other_components_take(schema) -> None:
    cluster = schema["resources"]["slm-deploy:index:AksCluster"]["properties"]
    assert cluster["kubernetesProvider"]["$ref"].endswith("#/resources/pulumi:providers:kubernetes")
    assert all(cluster[name]["type"] == "string" for name in ("kubeletObjectId", "monitorWorkspaceId",
                                                              "prometheusQueryEndpoint", "oidcIssuerUrl"))
    deployment = schema["resources"]["slm-deploy:index:SlmDeployment"]["properties"]
    assert all(deployment[name]["type"] == "string" for name in ("tier", "clusterName", "resourceGroup"))
