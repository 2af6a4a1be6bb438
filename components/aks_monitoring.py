"""Managed Prometheus: the Azure Monitor workspace and the data collection chain azureMonitorProfile.metrics needs.

Turning on azureMonitorProfile.metrics deploys the metrics agent, but the agent ships nothing until a data
collection rule names a destination workspace and is associated with the cluster. This is the chain Azure's
own onboarding template creates: a data collection endpoint (kind Linux), a rule forwarding the
Microsoft-PrometheusMetrics stream to the workspace, and the rule's association with the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from slm_deploy.spec.deployment import DeploymentSpec

STREAM = "Microsoft-PrometheusMetrics"
DESTINATION = "MonitoringAccount1"
ARM_NAME_LIMIT = 44
"""Data collection endpoint and rule names Azure's template truncates to (MSProm-<location>-<cluster>)."""


def chain_name(spec: DeploymentSpec) -> str:
    """The endpoint, rule and association name Azure's own onboarding uses, truncated as it does."""
    return f"MSProm-{spec.targets.aks.location}-aks-{spec.name}"[:ARM_NAME_LIMIT]


def rule_args(workspace_id: pulumi.Input[str], endpoint_id: pulumi.Input[str]) -> dict:
    """The rule: the agent's Prometheus stream, forwarded to exactly one workspace."""
    return {
        "kind": "Linux",
        "data_collection_endpoint_id": endpoint_id,
        "data_sources": {"prometheus_forwarder": [{"name": "PrometheusDataSource", "streams": [STREAM],
                                                   "label_include_filter": {}}]},
        "destinations": {"monitoring_accounts": [{"account_resource_id": workspace_id, "name": DESTINATION}]},
        "data_flows": [{"streams": [STREAM], "destinations": [DESTINATION]}],
        "description": "Managed Prometheus for the slm-deploy cluster",
    }


@dataclass
class ManagedPrometheus:
    """The resources, for outputs and ordering."""

    workspace: azure_native.monitor.AzureMonitorWorkspace
    endpoint: azure_native.monitor.DataCollectionEndpoint
    rule: azure_native.monitor.DataCollectionRule
    association: azure_native.monitor.DataCollectionRuleAssociation


def managed_prometheus(name: str, spec: DeploymentSpec, resource_group: pulumi.Input[str],
                       cluster: azure_native.containerservice.ManagedCluster,
                       parent: pulumi.Resource) -> ManagedPrometheus:
    """Workspace, endpoint and rule in the cluster's group and region, then the rule bound to the cluster."""
    location = spec.targets.aks.location
    opts = pulumi.ResourceOptions(parent=parent)
    common = {"resource_group_name": resource_group, "location": location}
    workspace = azure_native.monitor.AzureMonitorWorkspace(
        f"{name}-prometheus", opts=opts, azure_monitor_workspace_name=f"amw-{spec.name}", **common)
    endpoint = azure_native.monitor.DataCollectionEndpoint(
        f"{name}-prometheus-dce", opts=opts, data_collection_endpoint_name=chain_name(spec), kind="Linux",
        **common)
    rule = azure_native.monitor.DataCollectionRule(
        f"{name}-prometheus-dcr", opts=opts, data_collection_rule_name=chain_name(spec),
        **rule_args(workspace.id, endpoint.id), **common)
    association = azure_native.monitor.DataCollectionRuleAssociation(
        f"{name}-prometheus-dcra", opts=opts, resource_uri=cluster.id, association_name=chain_name(spec),
        data_collection_rule_id=rule.id,
        description="Ships the cluster's Prometheus metrics; deleting it stops collection")
    return ManagedPrometheus(workspace, endpoint, rule, association)
