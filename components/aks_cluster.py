"""AksCluster: a hardened AKS cluster (controls A1-A9) with a GPU pool sized from the spec, and its provider."""

import base64
from typing import Any, TypedDict, cast

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s
import yaml
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.aks_ingress import ingress_profile
from slm_deploy.aks_monitoring import managed_prometheus
from slm_deploy.aks_registry import grant_acr_pull, kubelet_object_id, registry_resource_id, spec_registry
from slm_deploy.azure_invokes import invoke_options
from slm_deploy.azure_names import CLUSTER_NAME_LIMIT, RESOURCE_GROUP_LIMIT, scope_suffix, scoped_name
from slm_deploy.component_inputs import ResolvedSpec, checked_args
from slm_deploy.render.kubernetes.gpu_scheduling import GPU_NODE_LABELS, GPU_TAINT
from slm_deploy.spec.aks_pools import gpu_pool_size
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.present import aks_target
from slm_deploy.stack_settings import AksEncryption, AksEncryptionArgs, StackSettings, settings_from_args

CRITICAL_ADDONS_TAINT = "CriticalAddonsOnly=true:NoSchedule"



def gpu_vm_size(spec: DeploymentSpec) -> str:
    """The GPU pool's VM size: the spec's, or the smallest size with enough GPUs of the spec's type."""
    size = gpu_pool_size(aks_target(spec), spec)
    if size is None:  # validation refuses a GPU spec with no size (slm_deploy.spec.aks_pools)
        raise TypeError("only a validated spec that asks for GPUs has a GPU pool")
    return size


def api_server_access(spec: DeploymentSpec, encryption: AksEncryption | None) -> dict[str, Any]:
    """A2: a private API server, or one limited to the spec's authorised ranges."""
    aks = aks_target(spec)
    profile: dict[str, Any] = {}
    if aks.private_cluster:
        profile["enable_private_cluster"] = True
    else:  # the spec refuses a public API server without ranges, and ranges on a private one
        profile["authorized_ip_ranges"] = list(aks.authorized_ip_ranges)
    if encryption is not None:
        profile["enable_vnet_integration"] = True  # KMS with a private key vault needs API Server VNet Integration
    return profile


def system_pool(spec: DeploymentSpec) -> dict[str, Any]:
    """The system pool (A7): reserved for critical add-ons, no public IPs, encrypted at host."""
    return {
        "name": "system", "mode": "System", "vm_size": aks_target(spec).system_vm_size, "os_type": "Linux",
        "os_sku": "AzureLinux", "type": "VirtualMachineScaleSets", "enable_auto_scaling": True,
        "count": 2, "min_count": 2, "max_count": 3, "enable_encryption_at_host": True,
        "enable_node_public_ip": False, "node_taints": [CRITICAL_ADDONS_TAINT],
        "upgrade_settings": {"max_surge": "33%"},
    }


def user_pool_args(spec: DeploymentSpec) -> dict[str, Any]:
    """The CPU pool for the gateway, UI and model preparation (the system pool admits none of them)."""
    return {
        "agent_pool_name": "apps", "mode": "User", "vm_size": aks_target(spec).system_vm_size, "os_type": "Linux",
        "os_sku": "AzureLinux", "type": "VirtualMachineScaleSets", "enable_auto_scaling": True,
        "count": 2, "min_count": 2, "max_count": 5, "enable_encryption_at_host": True,
        "enable_node_public_ip": False, "upgrade_settings": {"max_surge": "33%"},
    }


def gpu_pool_args(spec: DeploymentSpec) -> dict[str, Any]:
    """The GPU pool: tainted so only GPU pods land there, labelled so they select it, one replica per node."""
    serving = spec.serving
    scaling = serving.autoscaling
    minimum = scaling.min_replicas if scaling.enabled else serving.replicas
    maximum = scaling.max_replicas if scaling.enabled else serving.replicas
    return {
        "agent_pool_name": "gpu", "mode": "User", "vm_size": gpu_vm_size(spec), "os_type": "Linux",
        "os_sku": "Ubuntu", "type": "VirtualMachineScaleSets", "gpu_profile": {"driver": "Install"},
        "enable_auto_scaling": True, "count": min(max(serving.replicas, minimum), maximum),
        "min_count": minimum, "max_count": max(maximum, 1), "os_disk_size_gb": 256,
        "enable_encryption_at_host": True, "enable_node_public_ip": False,
        "node_taints": [GPU_TAINT], "node_labels": dict(GPU_NODE_LABELS), "upgrade_settings": {"max_surge": "1"},
    }


def security_profile(workspace_id: pulumi.Input[str], encryption: AksEncryption | None) -> dict[str, Any]:
    """A6 (KMS, when the platform provides keys), A8 (workload identity), A9 (Defender), image cleanup."""
    profile: dict[str, Any] = {
        "workload_identity": {"enabled": True},
        "defender": {"log_analytics_workspace_resource_id": workspace_id, "security_monitoring": {"enabled": True}},
        "image_cleaner": {"enabled": True, "interval_hours": 168},
    }
    if encryption is not None:
        profile["azure_key_vault_kms"] = {"enabled": True, "key_id": encryption.kms_key_id,
                                          "key_vault_network_access": "Private",
                                          "key_vault_resource_id": encryption.key_vault_resource_id}
    return profile


def addon_profiles(workspace_id: pulumi.Input[str]) -> dict[str, Any]:
    """A4 Azure Policy, A5 Container Insights, A8 the Key Vault CSI driver with rotation."""
    return {
        "azurepolicy": {"enabled": True},
        "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace_id,
                                                 "useAADAuth": "true"}},
        "azureKeyvaultSecretsProvider": {"enabled": True,
                                         "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"}},
    }


def cluster_args(spec: DeploymentSpec, settings: StackSettings, resource_group: pulumi.Input[str],
                 workspace_id: pulumi.Input[str], suffix: str) -> dict[str, Any]:
    """Every ManagedCluster argument; the A-controls of the hardening reference, field by field."""
    aks, encryption = aks_target(spec), settings.aks_encryption
    aad: dict[str, Any] = {"managed": True, "enable_azure_rbac": True}
    if settings.admin_group_object_ids:
        aad["admin_group_object_ids"] = list(settings.admin_group_object_ids)
    args: dict[str, Any] = {
        "resource_group_name": resource_group, "location": aks.location,
        "resource_name_": scoped_name(f"aks-{spec.name}", suffix, CLUSTER_NAME_LIMIT),
        "dns_prefix": spec.name, "kubernetes_version": aks.kubernetes_version,
        "sku": {"name": "Base", "tier": "Standard"},
        "identity": ({"type": "UserAssigned", "user_assigned_identities": [encryption.identity_id]}
                     if encryption else {"type": "SystemAssigned"}),
        "enable_rbac": True, "aad_profile": aad, "disable_local_accounts": True,
        "api_server_access_profile": api_server_access(spec, encryption),
        "network_profile": {"network_plugin": "azure", "network_plugin_mode": "overlay",
                            "network_dataplane": "cilium", "network_policy": "cilium",
                            "load_balancer_sku": "standard", "outbound_type": "loadBalancer"},
        "addon_profiles": addon_profiles(workspace_id),
        "azure_monitor_profile": {"metrics": {"enabled": uses_managed_prometheus(spec)}},
        "security_profile": security_profile(workspace_id, encryption),
        "oidc_issuer_profile": {"enabled": True},
        "auto_upgrade_profile": {"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
        "agent_pool_profiles": [system_pool(spec)],
    }
    if encryption is not None:
        args["disk_encryption_set_id"] = encryption.disk_encryption_set_id
    ingress = ingress_profile(spec)
    if ingress is not None:
        args["ingress_profile"] = ingress
    if spec.serving.autoscaling.enabled:
        args["workload_auto_scaler_profile"] = {"keda": {"enabled": True}}  # the AKS KEDA add-on
    return args


def uses_managed_prometheus(spec: DeploymentSpec) -> bool:
    """Azure Monitor's managed Prometheus collects when monitoring is on in the managed mode."""
    return spec.monitoring.enabled and monitoring_mode(spec) == "managed"


def kubeconfig_for_login(kubeconfig: str, login_mode: str) -> str:
    """The AKS exec kubeconfig with kubelogin's --login set to a non-interactive mode (as `convert-kubeconfig`)."""
    config = yaml.safe_load(kubeconfig)
    for user in config.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or "kubelogin" not in str(exec_.get("command", "")):
            continue
        args = list(exec_.get("args") or [])
        if "--login" in args:
            args[args.index("--login") + 1] = login_mode
        else:
            args += ["--login", login_mode]
        exec_["args"] = args
    return yaml.safe_dump(config, sort_keys=False)


class AksClusterArgs(TypedDict, total=False):
    """The spec whose targets.aks describes the cluster, and the platform settings around it."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    kubelogin_mode: str
    """How the kubeconfig's kubelogin signs in (azurecli, workloadidentity, msi, spn, ...)."""
    aks_encryption: AksEncryptionArgs
    admin_group_object_ids: list[str]
    """Entra ID groups that administer the cluster."""
    acr_resource_group: str
    """Resource group of the ACR targets.docker.registry names (default: the cluster's)."""
    registry: pulumi.Input[str]
    """The registry images are pushed to, as given to ImageBuilds; an ACR login server gets AcrPull (an Output
    one is looked up by name once it resolves, and must be an ACR)."""
    registry_resource_id: pulumi.Input[str]
    """ARM id of the ACR the nodes pull from (e.g. a Registry created in the same program); gets AcrPull."""


AKS_CLUSTER_ARGS = frozenset(AksClusterArgs.__annotations__)


class AksCluster(pulumi.ComponentResource):
    """Resource group, Log Analytics workspace, ManagedCluster, CPU and GPU pools, and a provider for them."""

    cluster_name: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """A kubelogin exec kubeconfig for the cluster (secret)."""
    kubelet_object_id: pulumi.Output[str]
    """Object id of the nodes' kubelet identity: grant it pulls on any further registry."""
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer, for workload identity federation."""
    monitor_workspace_id: pulumi.Output[str]
    """The Azure Monitor workspace managed Prometheus ships to (AksManagedMonitoring's); empty when not managed."""
    prometheus_query_endpoint: pulumi.Output[str]
    """That workspace's PromQL endpoint, which KEDA queries (KubernetesWorkloads'); empty when not managed."""
    kubernetes_provider: k8s.Provider
    """A provider for the cluster, ready once its node pools are (the resource itself, so children can use it)."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:AksCluster", name, None, opts)
        values = checked_args("AksCluster", args, AKS_CLUSTER_ARGS)
        resolved = ResolvedSpec(values["spec"], registry=values.get("registry"))
        spec = resolved.deployment.spec
        settings = settings_from_args(values)
        if spec.targets.aks is None:
            raise TypeError("AksCluster needs a spec with targets.aks")
        self._build(name, spec, settings, values.get("registry_resource_id"), resolved.given("registry"))
        self.cluster_name = self.cluster.name
        self.resource_group_name = self.resource_group.name
        self.kubernetes_provider = self.provider
        workspace = self.prometheus.workspace if self.prometheus else None
        self.monitor_workspace_id = workspace.id if workspace else pulumi.Output.from_input("")
        self.prometheus_query_endpoint = (workspace.metrics.apply(lambda m: m.prometheus_query_endpoint if m else "")
                                          if workspace else pulumi.Output.from_input(""))
        claim_child_names(self)
        self.register_outputs({"clusterName": self.cluster.name, "resourceGroupName": self.resource_group.name,
                               "kubeconfig": self.kubeconfig, "kubernetesProvider": self.provider,
                               "kubeletObjectId": self.kubelet_object_id, "oidcIssuerUrl": self.oidc_issuer_url,
                               "monitorWorkspaceId": self.monitor_workspace_id,
                               "prometheusQueryEndpoint": self.prometheus_query_endpoint})

    def _build(self, name: str, spec: DeploymentSpec, settings: StackSettings,
               registry_id_given: pulumi.Input[str] | None, later_registry: pulumi.Output[str] | None) -> None:
        aks, suffix = aks_target(spec), scope_suffix(name)
        child = pulumi.ResourceOptions(parent=self)
        self.resource_group = azure_native.resources.ResourceGroup(
            f"{name}-rg", location=aks.location, opts=child,
            resource_group_name=scoped_name(aks.resource_group or f"rg-{spec.name}", suffix, RESOURCE_GROUP_LIMIT))
        self.workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs", resource_group_name=self.resource_group.name, location=aks.location,
            sku={"name": "PerGB2018"}, retention_in_days=30, opts=child)
        self.cluster = azure_native.containerservice.ManagedCluster(
            f"{name}-cluster", opts=child,
            **cluster_args(spec, settings, self.resource_group.name, self.workspace.id, suffix))
        # The provider types the issuer URL optional because the profile can be off; cluster_args turns it on, so
        # Azure reports one. Until it has (a preview, mocks) the Output holds no value, as Pulumi's unknowns do.
        self.oidc_issuer_url = cast(pulumi.Output[str], self.cluster.oidc_issuer_profile.apply(
            lambda p: p.issuer_url if p else None))
        pool_parent = pulumi.ResourceOptions(parent=self, depends_on=[self.cluster])
        common: dict[str, Any] = {"resource_group_name": self.resource_group.name, "resource_name_": self.cluster.name}
        self.pools = [azure_native.containerservice.AgentPool(f"{name}-apps", opts=pool_parent,
                                                              **common, **user_pool_args(spec))]
        self.gpu_pool = None
        if spec.resources.gpu is not None:
            self.gpu_pool = azure_native.containerservice.AgentPool(f"{name}-gpu", opts=pool_parent,
                                                                    **common, **gpu_pool_args(spec))
            self.pools.append(self.gpu_pool)
        self.prometheus = None
        if uses_managed_prometheus(spec):
            self.prometheus = managed_prometheus(name, spec, self.resource_group.name, self.cluster, parent=self)
        self.kubelet_object_id = self.cluster.identity_profile.apply(kubelet_object_id)
        self.acr_pull = None
        registry_id = registry_resource_id(
            later_registry if later_registry is not None else spec_registry(spec), registry_id_given,
            settings.acr_resource_group or self.resource_group.name, invoke_options(self))
        if registry_id is not None:
            self.acr_pull = grant_acr_pull(f"{name}-acr-pull", registry_id, self.kubelet_object_id, opts=child)
        credentials = azure_native.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group.name, resource_name=self.cluster.name, format="exec",
            opts=invoke_options(self))
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs[0].value.apply(
            lambda encoded: kubeconfig_for_login(base64.b64decode(encoded).decode(), settings.kubelogin_mode)))
        ready = [*self.pools, *([self.acr_pull] if self.acr_pull else [])]
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=ready))
