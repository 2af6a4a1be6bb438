"""What `pulumi up` creates for monitoring, under mocks: managed Prometheus's rule groups from the same rule
source, KEDA's workload identity and the AKS KEDA add-on, the action group and Managed Grafana when asked,
and in the bundled mode exactly the stack `render` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")

from slm_deploy.aks_monitoring import KEDA_SUBJECT, MONITORING_DATA_READER  # noqa: E402
from slm_deploy.render.bundle import render_bundle  # noqa: E402
from slm_deploy.render.monitoring.azure import RULES_PER_GROUP, prometheus_rule_groups  # noqa: E402
from slm_deploy.render.monitoring.context import monitored  # noqa: E402
from slm_deploy.runtimes import plan_deployment  # noqa: E402
from slm_deploy.spec.loader import parse_deployment  # noqa: E402
from slm_deploy.stack_settings import StackSettings  # noqa: E402
from tests.monitoring.bundles import matrix_spec  # noqa: E402
from tests.test_pulumi_components import ComponentMocks, plain, run_component, stack_spec  # noqa: E402

RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"


def run(tmp_path: Path, spec: dict) -> ComponentMocks:
    return run_component(parse_deployment(spec), StackSettings(work_dir=tmp_path), stack="monitoring")


def inputs(mocks: ComponentMocks, typ: str) -> list[dict]:
    return [plain(r.inputs) for r in mocks.of_type(typ)]


def test_managed_prometheus_gets_the_same_rules_and_keda_its_identity(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    mocks = run(tmp_path, spec)
    deployment = parse_deployment(spec)
    expected = prometheus_rule_groups(monitored(deployment, plan_deployment(deployment)), 15)
    groups = inputs(mocks, RULE_GROUP)
    assert sorted(g["ruleGroupName"] for g in groups) == sorted(g["rule_group_name"] for g in expected)
    assert all(len(g["rules"]) <= RULES_PER_GROUP and g["scopes"] == ["phi4-mini-aks-prometheus-id"] for g in groups)
    assert sum(len(g["rules"]) for g in groups) == sum(len(g["rules"]) for g in expected)
    records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    assert {"slm:requests_waiting", "slm:kv_cache_usage", "slm:slo_errors:ratio_rate1h"} <= records
    (cluster,) = inputs(mocks, "azure-native:containerservice:ManagedCluster")
    assert cluster["workloadAutoScalerProfile"] == {"keda": {"enabled": True}}
    federations = inputs(mocks, "azure-native:managedidentity:FederatedIdentityCredential")
    (federation,) = [f for f in federations if f["subject"] == KEDA_SUBJECT]  # beside the workload's, for Key Vault
    assert federation["issuer"].startswith("https://") and {f["issuer"] for f in federations} == {federation["issuer"]}
    readers = [r for r in inputs(mocks, "azure-native:authorization:RoleAssignment")
               if r["roleDefinitionId"].endswith(MONITORING_DATA_READER)]
    assert [r["principalId"] for r in readers] == ["phi4-mini-monitoring-keda-principal-id"]
    scaled = [plain(r.inputs) for r in mocks.resources if r.typ.endswith(":ScaledObject")]
    (trigger,) = scaled[0]["spec"]["triggers"]
    assert trigger["metadata"]["serverAddress"].endswith(".prometheus.monitor.azure.com")
    (auth,) = [plain(r.inputs) for r in mocks.resources if r.typ.endswith(":TriggerAuthentication")]
    assert auth["spec"]["podIdentity"] == {"provider": "azure-workload",
                                           "identityId": "phi4-mini-monitoring-keda-client-id"}


def test_a_webhook_receiver_becomes_an_action_group_every_alert_notifies(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["monitoring"]["receiver"] = {"url": "https://alerts.example.com/hook"}
    mocks = run(tmp_path, spec)
    (group,) = inputs(mocks, "azure-native:monitor:ActionGroup")
    assert group["webhookReceivers"][0]["serviceUri"] == "https://alerts.example.com/hook"
    alerts = [r for g in inputs(mocks, RULE_GROUP) for r in g["rules"] if "alert" in r]
    assert alerts and all(r["actions"] == [{"actionGroupId": "phi4-mini-monitoring-alerts-id"}] for r in alerts)


def test_azure_managed_grafana_reads_the_workspace(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["monitoring"]["grafana"] = {"azure_managed": True}
    mocks = run(tmp_path, spec)
    (grafana,) = inputs(mocks, "azure-native:dashboard:Grafana")
    integrations = grafana["properties"]["grafanaIntegrations"]["azureMonitorWorkspaceIntegrations"]
    assert integrations[0]["azureMonitorWorkspaceResourceId"].endswith("prometheus-id")
    assert grafana["properties"]["publicNetworkAccess"] == "Disabled"
    assert inputs(run(tmp_path / "plain", stack_spec("phi4-vllm-aks")), "azure-native:dashboard:Grafana") == []


def rendered_objects(files: dict[str, str]) -> dict[tuple[str, str, str], dict]:
    """(kind, namespace, name) -> object, for every object `render` writes for the cluster the workloads run on
    (the smoke Job is applied by hand after `pulumi up`, so it is left out)."""
    namespace = yaml.safe_load(files["kubernetes/kustomization.yaml"])["namespace"]
    found = {}
    for name, text in files.items():
        if not name.startswith("kubernetes/") or name.startswith("kubernetes/smoke/") \
                or name.endswith("kustomization.yaml"):
            continue
        obj = yaml.safe_load(text)  # the workloads' kustomization puts its objects in the deployment's namespace
        default = namespace if name.count("/") == 1 and obj["kind"] != "Namespace" else ""
        found[(obj["kind"], obj["metadata"].get("namespace", default), obj["metadata"]["name"])] = obj
    return found


def created_objects(mocks: ComponentMocks) -> dict[tuple[str, str, str], dict]:
    """(kind, namespace, name) -> inputs of every Kubernetes object `pulumi up` creates, Helm releases aside."""
    return {(r.typ.rsplit(":", 1)[1], plain(r.inputs)["metadata"].get("namespace", ""),
             plain(r.inputs)["metadata"]["name"]): plain(r.inputs)
            for r in mocks.resources if r.typ.startswith("kubernetes:") and r.custom and ":helm.sh/" not in r.typ}


def test_the_bundled_mode_creates_exactly_the_objects_render_writes(tmp_path: Path) -> None:
    spec = matrix_spec("llamacpp", True)
    spec["targets"].pop("compose")
    mocks = run(tmp_path, spec)
    rendered = rendered_objects(render_bundle(parse_deployment(spec)).files)
    created = created_objects(mocks)
    secrets = {key for key in created if key[0] == "Secret"}  # values Pulumi writes; render leaves them to the user
    assert set(created) - secrets == set(rendered)
    assert mocks.of_type("kubernetes:helm.sh/v3:Release") == []
    for key, obj in rendered.items():
        if key[1] == "monitoring":  # nothing built in the stack: the objects are the rendered ones, field for field
            assert created[key] == obj, key


def test_render_of_the_aks_example_holds_every_kubernetes_object_pulumi_up_creates(tmp_path: Path) -> None:
    spec = stack_spec("phi4-vllm-aks")
    mocks = run(tmp_path, spec)
    files = render_bundle(parse_deployment(spec)).files
    created = created_objects(mocks)
    secrets = {key for key in created if key[0] == "Secret"}
    assert set(created) - secrets == set(rendered_objects(files))
    charts = sorted(plain(r.inputs)["chart"] for r in mocks.of_type("kubernetes:helm.sh/v3:Release"))
    assert charts == sorted(yaml.safe_load(text)["chart"] for name, text in files.items() if name.startswith("helm/"))
