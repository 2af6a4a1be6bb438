"""What the AKS cluster runs for its workloads, under fresh Pulumi mocks per test: the GPU device plugin,
AcrPull for the kubelet identity, managed Prometheus data collection, the application routing add-on and
cert-manager with the spec's ClusterIssuer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")

from slm_deploy.render.kubernetes.gpu_scheduling import GPU_NODE_LABELS as GPU_LABELS, GPU_TAINT  # noqa: E402
from slm_deploy.aks_ingress import APP_ROUTING_CLASS  # noqa: E402
from slm_deploy.render.kubernetes.cert_manager import CERT_MANAGER_REPOSITORY, CERT_MANAGER_VERSION  # noqa: E402
from slm_deploy.aks_registry import ACR_PULL_ROLE, acr_name, role_definition_id  # noqa: E402
from slm_deploy.errors import SpecError  # noqa: E402
from slm_deploy.spec.images import pins_table  # noqa: E402
from slm_deploy.spec.loader import parse_deployment  # noqa: E402
from slm_deploy.render.kubernetes.cert_manager import LETSENCRYPT_PRODUCTION  # noqa: E402
from slm_deploy.stack_settings import StackSettings  # noqa: E402
from tests.policies.policy_harness import run_resource_policy  # noqa: E402
from tests.support.crd_schema import CLUSTER_ISSUER_CRD, object_errors  # noqa: E402
from tests.test_pulumi_components import (REGISTRY_SUBSCRIPTION, ComponentMocks, created_group, plain, read_config,  # noqa: E402
                                          run_component, stack_spec)

CLUSTER = "azure-native:containerservice:ManagedCluster"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
NAMESPACE = "kubernetes:core/v1:Namespace"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RELEASE = "kubernetes:helm.sh/v3:Release"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
MONITOR = "azure-native:monitor:"


def run(tmp_path: Path, spec: dict | None = None, **settings: Any) -> ComponentMocks:
    """The AKS example (or a variant) under fresh mocks."""
    deployment = parse_deployment(spec or stack_spec("phi4-vllm-aks"))
    return run_component(deployment, StackSettings(work_dir=tmp_path, **settings), stack="phi4-vllm-aks")


def only(mocks: ComponentMocks, typ: str, suffix: str = "") -> dict[str, Any]:
    """The inputs of the one registered resource of a type (and name suffix)."""
    found = [r for r in mocks.of_type(typ) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return plain(found[0].inputs)


def of_prefix(mocks: ComponentMocks, prefix: str) -> list[str]:
    return sorted(r.typ for r in mocks.resources if r.typ.startswith(prefix))


# --- the NVIDIA device plugin --------------------------------------------------------------------------------

def test_the_device_plugin_runs_on_every_gpu_node_and_nowhere_else(tmp_path: Path) -> None:
    mocks = run(tmp_path)
    plugin = only(mocks, DAEMON_SET)
    pod = plugin["spec"]["template"]["spec"]
    gpu_pool = only(mocks, "azure-native:containerservice:AgentPool", "-gpu")
    assert pod["nodeSelector"] == gpu_pool["nodeLabels"] == GPU_LABELS
    key, rest = GPU_TAINT.split("=", 1)
    assert {"key": key, "operator": "Exists", "effect": rest.split(":", 1)[1]} in pod["tolerations"]
    assert gpu_pool["nodeTaints"] == [GPU_TAINT]
    assert pod["priorityClassName"] == "system-node-critical"
    (container,) = pod["containers"]
    assert container["image"] == pins_table()["nvidia-device-plugin"].image.reference
    assert container["image"].startswith("nvcr.io/nvidia/k8s-device-plugin:v0.17.0@sha256:")
    assert plugin["metadata"]["namespace"] == "nvidia-device-plugin"
    (daemon_set,) = mocks.of_type(DAEMON_SET)
    assert daemon_set.provider.split("::")[-2] == "phi4-mini-aks-k8s"  # on the new cluster


def test_the_plugin_gets_the_kubelet_directory_and_root_and_nothing_more(tmp_path: Path) -> None:
    pod = only(run(tmp_path), DAEMON_SET)["spec"]["template"]["spec"]
    host_paths = [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v]
    assert host_paths == ["/var/lib/kubelet/device-plugins"]
    assert not any(pod.get(f) for f in ("hostNetwork", "hostPID", "hostIPC"))
    assert pod["automountServiceAccountToken"] is False
    context = pod["containers"][0]["securityContext"]
    assert context["privileged"] is False and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]} and context["readOnlyRootFilesystem"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["containers"][0]["imagePullPolicy"] == "Always"
    assert set(pod["containers"][0]["resources"]) == {"requests", "limits"}


def test_only_the_plugin_namespace_is_exempt_from_enforcing_restricted_and_audit_still_records_it(
        tmp_path: Path) -> None:
    mocks = run(tmp_path)
    namespaces = {plain(r.inputs)["metadata"]["name"]: plain(r.inputs)["metadata"]["labels"]
                  for r in mocks.of_type(NAMESPACE)}
    privileged = sorted(n for n, labels in namespaces.items()
                        if labels.get("pod-security.kubernetes.io/enforce") != "restricted")
    assert privileged == ["nvidia-device-plugin"]
    labels = namespaces["nvidia-device-plugin"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.33"  # the cluster's minor version
    assert namespaces["cert-manager"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_plugin_namespace_is_closed_and_bounded(tmp_path: Path) -> None:
    mocks = run(tmp_path)
    policy = only(mocks, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "-default-deny")
    assert policy["metadata"]["namespace"] == "nvidia-device-plugin"
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    quota = only(mocks, "kubernetes:core/v1:ResourceQuota", "-plugin-pods")
    assert quota["spec"]["hard"]["pods"] == "4"  # one plugin per node of a GPU pool that scales to 4
    assert only(mocks, "kubernetes:core/v1:LimitRange", "-defaults")["metadata"]["namespace"] == "nvidia-device-plugin"


def test_the_policy_pack_passes_the_plugin_only_through_its_waivers(tmp_path: Path) -> None:
    from pulumi_policy import ResourceValidationPolicy

    from slm_deploy.policies.crossguard import build_policies
    mocks = run(tmp_path)
    plugin_objects = [r for r in mocks.resources if r.custom and r.name.startswith("phi4-mini-add-ons-gpu-plugin-")]
    assert len(plugin_objects) == 6
    violations, waived = {}, set()
    for resource in plugin_objects:
        for policy in (p for p in build_policies() if isinstance(p, ResourceValidationPolicy)):
            reasons: list[str] = []
            found = run_resource_policy(policy, resource.typ, plain(resource.inputs), name=resource.name,
                                        not_applicable=reasons)
            if reasons:
                assert all("/var/lib/kubelet/device-plugins" in r for r in reasons), reasons
                waived.add((policy.name, resource.typ.rsplit(":", 1)[1]))
            if found:
                violations[(policy.name, resource.name)] = found
    assert violations == {}
    assert waived == {("slm-k8s-005", "DaemonSet"), ("slm-k8s-008", "DaemonSet"), ("slm-k8s-017", "DaemonSet"),
                      ("slm-k8s-014", "Namespace")}


def test_a_registry_mirror_rehomes_the_plugin_image_keeping_its_digest(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec.setdefault("security", {})["registry_mirror"] = "mirror.example.com/upstream"
    image = only(run(tmp_path, spec), DAEMON_SET)["spec"]["template"]["spec"]["containers"][0]["image"]
    pinned = pins_table()["nvidia-device-plugin"].image
    assert image == f"mirror.example.com/upstream/nvidia/k8s-device-plugin:{pinned.tag}@{pinned.digest}"


def test_a_cluster_without_gpus_runs_no_device_plugin(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    cpu = stack_spec("qwen3-llamacpp-edge")
    # 2 CPU: the edge stack's 4 would not fit the 4-vCPU apps nodes, which validation refuses
    spec.update(model=cpu["model"], runtime=cpu["runtime"], resources={**cpu["resources"], "cpu": 2})
    spec["serving"] = {"concurrency": 2}
    spec["targets"]["aks"].pop("gpu_vm_size")
    mocks = run(tmp_path, spec)
    assert mocks.of_type(DAEMON_SET) == []
    assert [r.name for r in mocks.resources if "gpu" in r.name] == []
    assert len(mocks.of_type("azure-native:containerservice:AgentPool")) == 1


# --- image pulls from Azure Container Registry ---------------------------------------------------------------

def test_the_kubelet_identity_may_pull_from_the_stacks_registry_and_nothing_else(tmp_path: Path) -> None:
    mocks = run(tmp_path)
    (lookup,) = [c for c in mocks.calls if c.token == "azure-native:containerregistry:getRegistry"]
    assert lookup.args == {"registryName": "slmphi4", "resourceGroupName": created_group(mocks)}
    assignment = only(mocks, ROLE_ASSIGNMENT, "-acr-pull")
    registry_id = (f"{REGISTRY_SUBSCRIPTION}/resourceGroups/{created_group(mocks)}/providers/"
                   "Microsoft.ContainerRegistry/registries/slmphi4")
    assert assignment["scope"] == registry_id
    assert assignment["roleDefinitionId"] == (f"{REGISTRY_SUBSCRIPTION}/providers/Microsoft.Authorization/"
                                              f"roleDefinitions/{ACR_PULL_ROLE}")
    assert assignment["principalId"] == "phi4-mini-aks-cluster-kubelet-object-id"
    assert assignment["principalType"] == "ServicePrincipal"


def test_the_registry_is_looked_up_in_the_group_the_operator_names(tmp_path: Path) -> None:
    mocks = run(tmp_path, acr_resource_group="rg-platform-registries")
    (lookup,) = [c for c in mocks.calls if c.token == "azure-native:containerregistry:getRegistry"]
    assert lookup.args["resourceGroupName"] == "rg-platform-registries"
    assert "/resourceGroups/rg-platform-registries/" in only(mocks, ROLE_ASSIGNMENT, "-acr-pull")["scope"]


def run_cluster(login_server: str) -> ComponentMocks:
    """AksCluster alone, given its registry as an Output, as a program that creates the registry would."""
    mocks = ComponentMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="slm-deploy", stack="registry-output", preview=False)

    @pulumi.runtime.test
    def program() -> None:
        from slm_deploy.aks_cluster import AksCluster
        registry = pulumi.Output.from_input(login_server).apply(lambda server: server)  # an ACR's loginServer
        AksCluster("phi4", {"spec": stack_spec("phi4-vllm-aks"), "registry": registry})

    program()
    return mocks


def test_a_registry_known_only_as_an_output_gets_acr_pull_once_its_login_server_resolves() -> None:
    # The spec names slmphi4.azurecr.io; the program's own registry (an ACR's loginServer Output) replaces it.
    mocks = run_cluster("acrteam01.azurecr.io")
    (lookup,) = [c for c in mocks.calls if c.token == "azure-native:containerregistry:getRegistry"]
    assert lookup.args == {"registryName": "acrteam01", "resourceGroupName": created_group(mocks)}
    assignment = only(mocks, ROLE_ASSIGNMENT, "-acr-pull")
    assert assignment["scope"].endswith(f"/resourceGroups/{created_group(mocks)}/providers/Microsoft.ContainerRegistry/"
                                        "registries/acrteam01")
    assert assignment["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PULL_ROLE}")
    assert assignment["principalId"] == "phi4-cluster-kubelet-object-id"


def test_a_registry_outside_azure_gets_no_role_assignment(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["targets"]["docker"]["registry"] = "registry.example.com/team"
    mocks = run(tmp_path, spec)
    assert [r.name for r in mocks.of_type(ROLE_ASSIGNMENT) if r.name.endswith("-acr-pull")] == []
    assert not [c for c in mocks.calls if c.token == "azure-native:containerregistry:getRegistry"]


@pytest.mark.parametrize(("registry", "name"), [
    ("slmphi4.azurecr.io", "slmphi4"), ("slmphi4.azurecr.io/team/sub", "slmphi4"),
    ("contoso.azurecr.cn", "contoso"), ("registry.example.com", None), ("azurecr.io.example.com", None),
])
def test_only_azure_container_registry_hosts_name_a_registry(registry: str, name: str | None) -> None:
    assert acr_name(registry) == name


def test_the_role_is_defined_in_the_registrys_subscription() -> None:
    assert role_definition_id("/subscriptions/abc/resourceGroups/g/providers/X/registries/r") == \
        f"/subscriptions/abc/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL_ROLE}"
    with pytest.raises(ValueError, match="not an Azure resource id"):
        role_definition_id("slmphi4.azurecr.io")


# --- managed Prometheus ----------------------------------------------------------------------------------------

def test_metrics_flow_from_the_cluster_to_an_azure_monitor_workspace(tmp_path: Path) -> None:
    mocks = run(tmp_path)
    workspace = only(mocks, f"{MONITOR}AzureMonitorWorkspace")
    endpoint = only(mocks, f"{MONITOR}DataCollectionEndpoint")
    rule = only(mocks, f"{MONITOR}DataCollectionRule")
    association = only(mocks, f"{MONITOR}DataCollectionRuleAssociation")
    assert workspace["location"] == endpoint["location"] == rule["location"] == "westeurope"
    assert workspace["resourceGroupName"] == created_group(mocks)
    assert endpoint["kind"] == rule["kind"] == "Linux"
    assert rule["dataCollectionEndpointId"] == "phi4-mini-aks-prometheus-dce-id"
    assert rule["dataSources"]["prometheusForwarder"][0]["streams"] == ["Microsoft-PrometheusMetrics"]
    (destination,) = rule["destinations"]["monitoringAccounts"]
    assert destination["accountResourceId"] == "phi4-mini-aks-prometheus-id"
    assert rule["dataFlows"] == [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": [destination["name"]]}]
    assert association["resourceUri"] == "phi4-mini-aks-cluster-id"
    assert association["dataCollectionRuleId"] == "phi4-mini-aks-prometheus-dcr-id"
    assert endpoint["dataCollectionEndpointName"] == rule["dataCollectionRuleName"] == \
        association["associationName"] == "MSProm-westeurope-aks-phi4-mini"
    assert only(mocks, CLUSTER)["azureMonitorProfile"] == {"metrics": {"enabled": True}}


def test_without_monitoring_no_metrics_are_collected_and_logs_still_are(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["monitoring"] = {"enabled": False}
    spec["serving"]["autoscaling"] = {"enabled": False}  # scaling reads Prometheus, so it needs monitoring
    mocks = run(tmp_path, spec)
    # the Key Vault's audit logs are not metrics: they stay on
    assert of_prefix(mocks, MONITOR) == ["azure-native:monitor:DiagnosticSetting"]
    cluster = only(mocks, CLUSTER)
    assert cluster["azureMonitorProfile"] == {"metrics": {"enabled": False}}
    assert cluster["addonProfiles"]["omsagent"]["enabled"] is True


# --- ingress and certificates ----------------------------------------------------------------------------------

def test_an_ingress_spec_turns_on_the_managed_nginx_add_on(tmp_path: Path) -> None:
    cluster = only(run(tmp_path), CLUSTER)
    assert cluster["ingressProfile"] == {"webAppRouting": {"enabled": True}}
    assert "httpApplicationRouting" not in cluster["addonProfiles"]


def test_cert_manager_comes_from_its_official_chart_pinned_and_hardened(tmp_path: Path) -> None:
    release = only(run(tmp_path), RELEASE)
    assert (release["chart"], release["version"]) == ("cert-manager", CERT_MANAGER_VERSION)
    assert release["repositoryOpts"] == {"repo": CERT_MANAGER_REPOSITORY} == {"repo": "https://charts.jetstack.io"}
    assert release["namespace"] == "cert-manager" and release["createNamespace"] is False
    assert release["atomic"] is True
    values = release["values"]
    assert values["crds"] == {"enabled": True, "keep": True}
    assert values["global"]["leaderElection"]["namespace"] == "cert-manager"
    assert values["startupapicheck"] == {"enabled": False}  # its image has no public digest record
    for part in (values, values["webhook"], values["cainjector"]):
        assert part["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        assert part["containerSecurityContext"] == {"allowPrivilegeEscalation": False,
                                                    "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert values["replicaCount"] == values["webhook"]["replicaCount"] == 2


def test_the_cluster_issuer_is_the_one_the_spec_names_and_answers_through_its_ingress_class(
        tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["exposure"]["tls"]["issuer"] = "public-acme"
    spec["exposure"]["ingress_class"] = APP_ROUTING_CLASS
    mocks = run(tmp_path, spec, acme_email="platform@example.com")
    issuer = only(mocks, ISSUER)
    assert issuer["metadata"] == {"name": "public-acme"}
    acme = issuer["spec"]["acme"]
    assert acme["server"] == LETSENCRYPT_PRODUCTION and acme["email"] == "platform@example.com"
    assert acme["privateKeySecretRef"] == {"name": "public-acme-account-key"}
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": APP_ROUTING_CLASS}}}]
    assert object_errors(CLUSTER_ISSUER_CRD, issuer) == []  # cert-manager's own ClusterIssuer CRD accepts what pulumi up creates


def test_a_class_no_controller_serves_is_reported_and_the_app_routing_class_is_not(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["exposure"]["ingress_class"] = "nginx"
    with caplog.at_level(logging.WARNING):
        run(tmp_path, spec)
    assert any("exposure.ingress_class is 'nginx'" in r.getMessage() for r in caplog.records)
    caplog.clear()
    spec["exposure"]["ingress_class"] = APP_ROUTING_CLASS
    with caplog.at_level(logging.WARNING):
        run(tmp_path, spec)
    assert not any("exposure.ingress_class" in r.getMessage() for r in caplog.records)


def test_without_ingress_there_is_no_add_on_controller_or_certificate_machinery(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["exposure"] = {"mode": "internal"}
    mocks = run(tmp_path, spec)
    assert "ingressProfile" not in only(mocks, CLUSTER)
    assert mocks.of_type(RELEASE) == [] and mocks.of_type(ISSUER) == []
    assert "cert-manager" not in {plain(r.inputs)["metadata"]["name"] for r in mocks.of_type(NAMESPACE)}


# --- operator settings -----------------------------------------------------------------------------------------

def test_registry_group_and_acme_settings_are_read(tmp_path: Path) -> None:
    settings = read_config({"acrResourceGroup": "rg-registries", "acmeEmail": "ops@example.com",
                            "acmeServer": "https://acme-staging-v02.api.letsencrypt.org/directory"}, tmp_path)
    assert settings.acr_resource_group == "rg-registries" and settings.acme_email == "ops@example.com"
    assert settings.acme_server == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert read_config({}, tmp_path).acme_server == LETSENCRYPT_PRODUCTION


def test_an_acme_directory_over_plain_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="slm-deploy:acmeServer"):
        read_config({"acmeServer": "http://acme.example.com/directory"}, tmp_path)


@pytest.mark.parametrize(("value", "accepted"), [
    (APP_ROUTING_CLASS, True), ("nginx", True), ("Web_Routing", False), ("nginx.", False), ("a" * 254, False),
])
def test_the_ingress_class_is_any_dns_subdomain(value: str, accepted: bool) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["exposure"]["ingress_class"] = value
    if accepted:
        assert parse_deployment(spec).spec.exposure.ingress_class == value
    else:
        with pytest.raises(SpecError, match="exposure.ingress_class"):
            parse_deployment(spec)


def test_every_image_of_the_cert_manager_chart_runs_by_the_pinned_digest_and_render_writes_the_same_release(
        tmp_path: Path) -> None:
    from pulumi_policy import ResourceValidationPolicy

    from slm_deploy.policies import check_bundle
    from slm_deploy.policies.crossguard import build_policies
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.render.writer import write_bundle

    mocks = run(tmp_path / "pulumi")
    release = only(mocks, RELEASE)
    values, pins = release["values"], pins_table()
    for part, key in ((values, "controller"), (values["webhook"], "webhook"), (values["cainjector"], "cainjector"),
                      (values["acmesolver"], "acmesolver")):
        pinned = pins[f"cert-manager-{key}"].image
        assert part["image"] == {"repository": pinned.name, "tag": CERT_MANAGER_VERSION, "digest": pinned.digest}

    (pack_rule,) = [p for p in build_policies() if isinstance(p, ResourceValidationPolicy) and p.name == "slm-k8s-023"]
    assert run_resource_policy(pack_rule, RELEASE, release, name="cert-manager") == []
    unpinned = {**release, "values": {**values, "webhook": {**values["webhook"], "image": {"tag": "v1.19.1"}}}}
    assert run_resource_policy(pack_rule, RELEASE, unpinned, name="cert-manager")

    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(parse_deployment(stack_spec("phi4-vllm-aks"))), bundle)
    rendered = yaml.safe_load((bundle / "helm" / "cert-manager.yaml").read_text(encoding="utf-8"))
    assert rendered["values"] == values and rendered["chart"] == release["chart"]
    assert (rendered["version"], rendered["repositoryOpts"]) == (release["version"], release["repositoryOpts"])
    assert (rendered["metadata"]["namespace"], rendered["metadata"]["name"]) == (release["namespace"], release["name"])
    report = check_bundle(bundle)
    assert "helm/cert-manager.yaml" in report.checked and report.findings == ()


def test_a_registry_mirror_rehomes_the_cert_manager_images_keeping_their_digests(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec.setdefault("security", {})["registry_mirror"] = "mirror.example.com"
    values = only(run(tmp_path, spec), RELEASE)["values"]
    assert values["image"]["repository"] == "mirror.example.com/jetstack/cert-manager-controller"
    assert values["image"]["digest"] == pins_table()["cert-manager-controller"].image.digest
