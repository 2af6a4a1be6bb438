"""What `pulumi up` creates for monitoring, under mocks: managed Prometheus's rule groups from the same rule
source, KEDA's workload identity and the AKS KEDA add-on, the action group and Managed Grafana when asked,
and kube-prometheus-stack as a Helm release in the bundled mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("pulumi_azure_native", reason="the aks extra (pulumi-azure-native) is not installed")

from slm_deploy.aks_monitoring import KEDA_SUBJECT, MONITORING_DATA_READER  # noqa: E402
from slm_deploy.render.bundle import render_bundle  # noqa: E402
from slm_deploy.render.monitoring.azure import RULES_PER_GROUP, prometheus_rule_groups  # noqa: E402
from slm_deploy.render.monitoring.context import monitored  # noqa: E402
from slm_deploy.render.monitoring.kube_prometheus_stack import CHART_VERSION  # noqa: E402
from slm_deploy.runtimes import plan_deployment  # noqa: E402
from slm_deploy.spec.loader import parse_deployment  # noqa: E402
from slm_deploy.stack_settings import StackSettings  # noqa: E402
from tests.monitoring.bundles import matrix_spec  # noqa: E402
from tests.test_pulumi_components import ComponentMocks, plain, run_component, stack_spec  # noqa: E402

RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"


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


def test_the_bundled_mode_installs_kube_prometheus_stack_with_the_rendered_values(tmp_path: Path) -> None:
    spec = matrix_spec("llamacpp", True)
    spec["targets"].pop("compose")
    mocks = run(tmp_path, spec)
    (release,) = inputs(mocks, RELEASE)
    assert (release["chart"], release["version"]) == ("kube-prometheus-stack", CHART_VERSION)
    rendered = yaml.safe_load(render_bundle(parse_deployment(spec)).files[
        "monitoring/kube-prometheus-stack/values.yaml"])
    assert release["values"] == rendered
    assert [r for r in mocks.resources if r.typ.endswith(":PodMonitor")], "the monitors the release's operator reads"
