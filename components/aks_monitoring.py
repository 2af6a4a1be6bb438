"""Managed Prometheus: the Azure Monitor workspace and the data collection chain azureMonitorProfile.metrics needs.

Turning on azureMonitorProfile.metrics deploys the metrics agent, but the agent ships nothing until a data
collection rule names a destination workspace and is associated with the cluster. This is the chain Azure's
own onboarding template creates: a data collection endpoint (kind Linux), a rule forwarding the
Microsoft-PrometheusMetrics stream to the workspace, and the rule's association with the cluster.
"""

from dataclasses import dataclass
from typing import Any, TypedDict

import pulumi
import pulumi_azure_native as azure_native
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.aks_registry import role_definition_id
from slm_deploy.azure_invokes import invoke_options
from slm_deploy.component_inputs import ResolvedSpec, checked_args
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.present import aks_target, present

STREAM = "Microsoft-PrometheusMetrics"
DESTINATION = "MonitoringAccount1"
ARM_NAME_LIMIT = 44
"""Data collection endpoint and rule names Azure's template truncates to (MSProm-<location>-<cluster>)."""


def chain_name(spec: DeploymentSpec) -> str:
    """The endpoint, rule and association name Azure's own onboarding uses, truncated as it does."""
    return f"MSProm-{aks_target(spec).location}-aks-{spec.name}"[:ARM_NAME_LIMIT]


def collection_rule(name: str, spec: DeploymentSpec, resource_group: pulumi.Input[str],
                    workspace_id: pulumi.Input[str], endpoint_id: pulumi.Input[str],
                    opts: pulumi.ResourceOptions) -> azure_native.monitor.DataCollectionRule:
    """The rule: the agent's Prometheus stream, forwarded to exactly one workspace."""
    return azure_native.monitor.DataCollectionRule(
        name, resource_group_name=resource_group, location=aks_target(spec).location,
        data_collection_rule_name=chain_name(spec), kind="Linux", data_collection_endpoint_id=endpoint_id,
        data_sources={"prometheus_forwarder": [{"name": "PrometheusDataSource", "streams": [STREAM],
                                                "label_include_filter": {}}]},
        destinations={"monitoring_accounts": [{"account_resource_id": workspace_id, "name": DESTINATION}]},
        data_flows=[{"streams": [STREAM], "destinations": [DESTINATION]}],
        description="Managed Prometheus for the slm-deploy cluster", opts=opts)


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
    location = aks_target(spec).location
    opts = pulumi.ResourceOptions(parent=parent)
    workspace = azure_native.monitor.AzureMonitorWorkspace(
        f"{name}-prometheus", opts=opts, azure_monitor_workspace_name=f"amw-{spec.name}",
        resource_group_name=resource_group, location=location)
    endpoint = azure_native.monitor.DataCollectionEndpoint(
        f"{name}-prometheus-dce", opts=opts, data_collection_endpoint_name=chain_name(spec), kind="Linux",
        resource_group_name=resource_group, location=location)
    rule = collection_rule(f"{name}-prometheus-dcr", spec, resource_group, workspace.id, endpoint.id, opts)
    association = azure_native.monitor.DataCollectionRuleAssociation(
        f"{name}-prometheus-dcra", opts=opts, resource_uri=cluster.id, association_name=chain_name(spec),
        data_collection_rule_id=rule.id,
        description="Ships the cluster's Prometheus metrics; deleting it stops collection")
    return ManagedPrometheus(workspace, endpoint, rule, association)


MONITORING_DATA_READER = "b0d8363b-8ddd-447d-831f-62ca05bff136"
"""Built-in role that may query an Azure Monitor workspace (KEDA's identity and Managed Grafana get it)."""
KEDA_SUBJECT = "system:serviceaccount:kube-system:keda-operator"
"""The service account of the AKS KEDA add-on's operator, which presents the federated identity."""
TOKEN_AUDIENCE = "api://AzureADTokenExchange"


def bind_managed_prometheus(manifests: list[dict], query_endpoint: pulumi.Input[str] | None,
                            client_id: pulumi.Input[str]) -> list[dict]:
    """Point the rendered ScaledObjects at the workspace's query endpoint (unless the spec names its own) and their
    TriggerAuthentication at KEDA's identity; both exist only once Azure has created them."""
    bound = []
    for manifest in manifests:
        if manifest["kind"] == "ScaledObject" and spec_is_managed(manifest) and query_endpoint is not None:
            triggers = [{**t, "metadata": {**t["metadata"], "serverAddress": query_endpoint}}
                        for t in manifest["spec"]["triggers"]]
            manifest = {**manifest, "spec": {**manifest["spec"], "triggers": triggers}}
        elif manifest["kind"] == "TriggerAuthentication":
            identity = {**manifest["spec"]["podIdentity"], "identityId": client_id}
            manifest = {**manifest, "spec": {**manifest["spec"], "podIdentity": identity}}
        bound.append(manifest)
    return bound


def spec_is_managed(scaled_object: dict) -> bool:
    """Whether a ScaledObject authenticates to managed Prometheus (its triggers name a TriggerAuthentication)."""
    return any("authenticationRef" in t for t in scaled_object["spec"]["triggers"])


def action_group(name: str, spec: DeploymentSpec, resource_group: pulumi.Input[str],
                 opts: pulumi.ResourceOptions) -> azure_native.monitor.ActionGroup | None:
    """Where Azure sends the alerts of managed Prometheus: the spec's webhook receiver, if it names one."""
    receiver = spec.monitoring.receiver
    if receiver is None:
        return None
    return azure_native.monitor.ActionGroup(
        f"{name}-alerts", opts=opts, resource_group_name=resource_group, location="Global", enabled=True,
        group_short_name=spec.name[:12], webhook_receivers=[
            {"name": "slm-webhook", "service_uri": present(receiver.url, "monitoring.receiver.url"),
             "use_common_alert_schema": True}])


def with_actions(group: dict, actions: list[dict]) -> dict:
    """A rule group whose alert rules notify the action groups (recording rules take none)."""
    if not actions:
        return group
    rules = [{**rule, "actions": actions} if "alert" in rule else rule for rule in group["rules"]]
    return {**group, "rules": rules}


def _reader(name: str, principal: pulumi.Input[str], workspace: pulumi.Output[str],
            opts: pulumi.ResourceOptions) -> azure_native.authorization.RoleAssignment:
    """Monitoring Data Reader on the workspace: query, nothing else."""
    subscription = azure_native.authorization.get_client_config_output(opts=invoke_options(opts.parent)).subscription_id
    return azure_native.authorization.RoleAssignment(
        name, opts=opts, principal_id=principal, principal_type="ServicePrincipal", scope=workspace,
        role_definition_id=subscription.apply(
            lambda sub: role_definition_id(f"/subscriptions/{sub}", MONITORING_DATA_READER)))


class AksManagedMonitoringArgs(TypedDict, total=False):
    """The spec whose rules and autoscaling to serve, and the AKS cluster's managed Prometheus (AksCluster's
    outputs)."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    resource_group_name: Required[pulumi.Input[str]]
    """The cluster's resource group (AksCluster's resource_group_name)."""
    cluster_name: Required[pulumi.Input[str]]
    """The cluster the rule groups evaluate for (AksCluster's cluster_name)."""
    monitor_workspace_id: Required[pulumi.Input[str]]
    """The Azure Monitor workspace the cluster ships metrics to (AksCluster's monitor_workspace_id)."""
    oidc_issuer_url: Required[pulumi.Input[str]]
    """The cluster's OIDC issuer, which KEDA's identity is federated with (AksCluster's oidc_issuer_url)."""


AKS_MANAGED_MONITORING_ARGS = frozenset(AksManagedMonitoringArgs.__annotations__)


class AksManagedMonitoring(pulumi.ComponentResource):
    """The deployment's rule groups in the workspace, KEDA's workload identity allowed to query it, and
    Azure Managed Grafana reading it when the spec asks."""

    keda_client_id: pulumi.Output[str]
    """Client id of the identity KEDA presents to the workspace (KubernetesWorkloads' keda_client_id)."""
    dashboard_url: pulumi.Output[str]
    """Azure Managed Grafana's endpoint; empty without monitoring.grafana.azure_managed."""

    def __init__(self, name: str, args: AksManagedMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:AksManagedMonitoring", name, None, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="slm-deploy:azure:ManagedMonitoring")])))
        values = checked_args("AksManagedMonitoring", args, AKS_MANAGED_MONITORING_ARGS)
        missing = sorted(key for key in AKS_MANAGED_MONITORING_ARGS if values.get(key) is None)
        if missing:
            raise TypeError(f"AksManagedMonitoring needs args {', '.join(missing)} (AksCluster's outputs)")
        deployment = ResolvedSpec(values["spec"]).deployment
        spec = deployment.spec
        if spec.targets.aks is None:
            raise TypeError("AksManagedMonitoring needs a spec with targets.aks")
        child = pulumi.ResourceOptions(parent=self)
        location, resource_group = spec.targets.aks.location, values["resource_group_name"]
        workspace_id = values["monitor_workspace_id"]
        self.action_group = action_group(name, spec, resource_group, child)
        actions = [{"action_group_id": self.action_group.id}] if self.action_group else []
        self.rule_groups = [
            azure_native.alertsmanagement.PrometheusRuleGroup(
                f"{name}-{group['rule_group_name']}", opts=child, resource_group_name=resource_group,
                location=location, scopes=[workspace_id], cluster_name=values["cluster_name"], enabled=True,
                description=f"slm-deploy rules for {spec.name}", **with_actions(group, actions))
            for group in rule_groups(deployment)]
        self.keda_identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-keda", opts=child, resource_group_name=resource_group, location=location)
        self.keda_federation = azure_native.managedidentity.FederatedIdentityCredential(
            f"{name}-keda-federation", opts=child, resource_group_name=resource_group,
            resource_name_=self.keda_identity.name, subject=KEDA_SUBJECT, audiences=[TOKEN_AUDIENCE],
            issuer=values["oidc_issuer_url"])
        self.keda_reader = _reader(f"{name}-keda-reader", self.keda_identity.principal_id, workspace_id, child)
        self.keda_client_id = self.keda_identity.client_id
        self.grafana = None
        self.dashboard_url = pulumi.Output.from_input("")
        if spec.monitoring.grafana.azure_managed:
            self.grafana = azure_native.dashboard.Grafana(
                f"{name}-grafana", opts=child, resource_group_name=resource_group, location=location,
                workspace_name=f"graf-{spec.name}"[:23], sku={"name": "Standard"},
                identity={"type": "SystemAssigned"},
                properties={"public_network_access": "Disabled", "api_key": "Disabled",
                            "deterministic_outbound_ip": "Disabled",
                            "grafana_integrations": {"azure_monitor_workspace_integrations": [
                                {"azure_monitor_workspace_resource_id": workspace_id}]}})
            self.grafana_reader = _reader(f"{name}-grafana-reader",
                                        self.grafana.identity.apply(lambda i: i.principal_id if i else ""),
                                        workspace_id, child)
            self.dashboard_url = self.grafana.properties.apply(lambda p: (p.endpoint or "") if p else "")
        claim_child_names(self)
        self.register_outputs({"kedaClientId": self.keda_client_id, "dashboardUrl": self.dashboard_url})


def rule_groups(deployment: Deployment) -> list[dict]:
    """The deployment's rules as Azure Prometheus rule groups, from the rule source every platform shares."""
    from slm_deploy.render.deployable import deployable_plan
    from slm_deploy.render.monitoring.azure import prometheus_rule_groups
    from slm_deploy.render.monitoring.context import monitored

    return prometheus_rule_groups(monitored(deployment, deployable_plan(deployment)),
                                  deployment.spec.monitoring.scrape_interval_seconds)
