"""SlmDeployment: the top-level Pulumi component, composed of the per-concern components for one spec."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.errors import SlmDeployError
from slm_deploy.image_builds import ImageBuilds, ImageBuildsArgs
from slm_deploy.kubernetes_workloads import KubernetesWorkloads, KubernetesWorkloadsArgs
from slm_deploy.program_state import program_table
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.images import build_owners
from slm_deploy.render.monitoring.bundle import is_monitored
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secret_uses import backend_of
from slm_deploy.spec.shared_cluster import namespace_clash
from slm_deploy.stack_settings import AksEncryptionArgs, settings_from_args

if TYPE_CHECKING:  # the AKS components need pulumi-azure-native, the optional `aks` extra: imported when used
    from slm_deploy.aks_add_ons import AksAddOns
    from slm_deploy.aks_cluster import AksCluster
    from slm_deploy.aks_monitoring import AksManagedMonitoring
    from slm_deploy.key_vault import KeyVaultSecrets
    from slm_deploy.monitoring_stack import MonitoringStack

ChildArgs = TypeVar("ChildArgs")


def _require_azure_native() -> None:
    """Fail with the install command, not an ImportError, when an AKS target meets a venv without the extra."""
    try:
        import pulumi_azure_native  # noqa: F401
    except ImportError as exc:
        raise pulumi.RunError("targets.aks needs pulumi-azure-native: pip install 'slm-deploy[aks]'") from exc


CLUSTER_TENANTS = "cluster-tenants"
"""The program's table of (Kubernetes provider, deployment) for every SlmDeployment with a cluster target."""


def _settle_on_cluster(deployment: Deployment, provider: object) -> None:
    """Deployments of one program on one cluster (the same provider object, or both the ambient kubeconfig) keep
    out of the namespaces where the others place their add-ons, whichever is declared first."""
    tenants = program_table(CLUSTER_TENANTS)
    neighbours = [other for key, other in tenants if key is provider]
    clashes = [(deployment, namespace_clash(deployment.spec, [n.spec for n in neighbours]))]
    clashes += [(other, namespace_clash(other.spec, [deployment.spec])) for other in neighbours]
    for tenant, problem in clashes:
        if problem is not None:
            raise pulumi.RunError(f"slm-deploy:deployment {tenant.spec.name} cannot share its cluster:\n"
                                  f"{tenant.error([problem])}")
    tenants.append((provider, deployment))


class SlmDeploymentArgs(TypedDict, total=False):
    """One deployment spec and the values around it a program supplies (credentials, paths, existing resources)."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    build_dir: str
    """Directory build contexts are written to (docker/<service>/ inside it); needed when images are built."""
    registry: pulumi.Input[str]
    """Push to this registry instead of targets.docker.registry; may be an Output (a registry made here)."""
    registry_username: pulumi.Input[str]
    registry_password: pulumi.Input[str]
    """Kept secret; with registry_username, the login BuildKit pushes with."""
    platforms: list[str]
    ca_bundle: pulumi.Input[str]
    """PEM bundle the image builds trust for package downloads (a BuildKit secret)."""
    namespace: pulumi.Input[str]
    """A namespace the caller owns (a SharedNamespace, or created elsewhere): used, never created, and bounded by
    its owner's ResourceQuota and LimitRange (the deployment renders none)."""
    kubernetes_provider: k8s.Provider
    """The cluster to deploy to when the spec does not create one (default: the ambient kubeconfig)."""
    secret_values: dict[str, pulumi.Input[str]]
    """Value of each secret Pulumi writes, by config key (secret-<name>); kept secret."""
    existing_vault_ids: dict[str, pulumi.Input[str]]
    """Resource id of each existing Key Vault (create: false) by name."""
    kubelogin_mode: str
    aks_encryption: AksEncryptionArgs
    admin_group_object_ids: list[str]
    acr_resource_group: str
    registry_resource_id: pulumi.Input[str]
    """ARM id of the ACR the new cluster's nodes pull from, when the registry is created in the same program."""
    acme_server: str
    acme_email: str


SLM_DEPLOYMENT_ARGS = frozenset(SlmDeploymentArgs.__annotations__)


def _pick(values: Mapping[str, Any], child: type[ChildArgs]) -> ChildArgs:
    """The given values of every key a child component's Args declares. Each such key has the same type in
    SlmDeploymentArgs, which checked_args held `values` to, and the child checks its args again itself."""
    keys = child.__annotations__
    return cast(ChildArgs, {key: value for key, value in values.items() if key in keys and value is not None})


class SlmDeployment(pulumi.ComponentResource):
    """Everything one spec turns on, as child components; the same objects `render` writes."""

    endpoint_url: pulumi.Output[str]
    """The OpenAI-compatible API: https://<host> with an Ingress, else the in-cluster Service URL."""
    gateway_service: pulumi.Output[str]
    namespace: pulumi.Output[str]
    images: pulumi.Output[dict[str, str]]
    """Service that owns a build -> the pushed image pinned by digest."""
    dashboard_url: pulumi.Output[str]
    """Grafana: the in-cluster URL of the bundled one, or Azure Managed Grafana's endpoint."""
    kubeconfig: pulumi.Output[str]
    """The created cluster's kubeconfig (secret); empty when the spec creates no cluster."""
    spec_sha256: pulumi.Output[str]
    tier: pulumi.Output[str]
    """The size tier the spec's model and resources fall in."""
    cluster_name: pulumi.Output[str]
    """The AKS cluster the spec created; empty when it creates none."""
    resource_group: pulumi.Output[str]
    """That cluster's resource group; empty when the spec creates no cluster."""

    def __init__(self, name: str, args: SlmDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:SlmDeployment", name, None, opts)
        values = checked_args("SlmDeployment", args, SLM_DEPLOYMENT_ARGS)
        deployment = ResolvedSpec(values["spec"], registry=values.get("registry"),
                                  namespace=values.get("namespace")).deployment
        spec = deployment.spec
        try:
            settings_from_args(values)
            plan = deployable_plan(deployment)
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        child = pulumi.ResourceOptions(parent=self)
        self.images_component: ImageBuilds | None = None
        if spec.targets.docker is not None and build_owners(plan):
            self.images_component = ImageBuilds(f"{name}-images", _pick(values, ImageBuildsArgs), opts=child)
        self.cluster: "AksCluster | None" = None
        self.add_ons: "AksAddOns | None" = None
        self.key_vaults: "KeyVaultSecrets | None" = None
        self.monitoring: "MonitoringStack | AksManagedMonitoring | None" = None
        self.workloads: KubernetesWorkloads | None = None
        provider = kubernetes_provider("SlmDeployment", values)
        workload_args = _pick(values, KubernetesWorkloadsArgs)
        if self.images_component is not None:
            workload_args["images"] = self.images_component.images
        if spec.targets.aks is not None:
            provider = self._aks(name, deployment, values, workload_args, child)
        if provider is not None:  # a kubernetes-package provider resource; one from another language is no k8s.Provider
            workload_args["kubernetes_provider"] = cast(k8s.Provider, provider)
        if kubernetes_target(spec):
            _settle_on_cluster(deployment, provider)
        if kubernetes_target(spec) and monitoring_mode(spec) == "bundled" and is_monitored(deployment, plan):
            from slm_deploy.monitoring_stack import MonitoringStack, MonitoringStackArgs

            self.monitoring = MonitoringStack(f"{name}-monitoring", _pick({**values, "kubernetes_provider": provider},
                                                                          MonitoringStackArgs), opts=child)
        if kubernetes_target(spec) and plan.services:
            self.workloads = KubernetesWorkloads(f"{name}-k8s", workload_args, opts=child)
        self._declare_outputs(deployment)

    def _aks(self, name: str, deployment: Deployment, values: dict[str, Any], workload_args: KubernetesWorkloadsArgs,
             opts: pulumi.ResourceOptions) -> k8s.Provider:
        """The cluster, its add-ons, Key Vaults and managed monitoring; the workloads bound to what they make."""
        _require_azure_native()
        from slm_deploy.aks_add_ons import AksAddOns, AksAddOnsArgs
        from slm_deploy.aks_cluster import AksCluster, AksClusterArgs
        from slm_deploy.key_vault import KeyVaultSecrets, KeyVaultSecretsArgs

        spec = deployment.spec
        cluster = self.cluster = AksCluster(f"{name}-aks", _pick(values, AksClusterArgs), opts=opts)
        provider = cluster.provider
        self.add_ons = AksAddOns(f"{name}-add-ons", _pick({**values, "kubernetes_provider": provider}, AksAddOnsArgs),
                                 opts=opts)
        if any(backend_of(spec, secret) == "azure-key-vault" for secret in spec.secrets):
            vault_args = _pick(values, KeyVaultSecretsArgs)
            vault_args["resource_group_name"] = cluster.resource_group.name
            vault_args["workspace_id"] = cluster.workspace.id
            vault_args["oidc_issuer_url"] = cluster.oidc_issuer_url
            self.key_vaults = KeyVaultSecrets(f"{name}-key-vault", vault_args, opts=opts)
            workload_args["key_vault_client_id"] = self.key_vaults.client_id
            workload_args["key_vault_names"] = self.key_vaults.vault_names
        if cluster.prometheus is not None:
            from slm_deploy.aks_monitoring import AksManagedMonitoring

            monitoring = self.monitoring = AksManagedMonitoring(f"{name}-monitoring", {
                # the resolved Deployment (an Output registry already bound), which a spec arg takes from Python
                "spec": cast(dict[str, Any], deployment), "resource_group_name": cluster.resource_group_name,
                "cluster_name": cluster.cluster_name, "monitor_workspace_id": cluster.monitor_workspace_id,
                "oidc_issuer_url": cluster.oidc_issuer_url}, opts=opts)
            workload_args["prometheus_query_endpoint"] = (spec.monitoring.prometheus_url
                                                          or cluster.prometheus_query_endpoint)
            workload_args["keda_client_id"] = monitoring.keda_client_id
        return provider

    def _declare_outputs(self, deployment: Deployment) -> None:
        """Every declared output, empty where this spec has nothing to report."""
        empty = pulumi.Output.from_input("")
        workloads, monitoring, images = self.workloads, self.monitoring, self.images_component
        self.endpoint_url = workloads.endpoint_url if workloads else empty
        self.gateway_service = workloads.gateway_service if workloads else empty
        self.namespace = workloads.namespace if workloads else empty
        self.images = images.images if images else pulumi.Output.from_input({})
        self.dashboard_url = getattr(monitoring, "dashboard_url", None) or empty
        self.kubeconfig = self.cluster.kubeconfig if self.cluster else pulumi.Output.secret("")
        self.spec_sha256 = pulumi.Output.from_input(deployment.spec_hash)
        self.tier = pulumi.Output.from_input(deployment.sizing.tier)
        self.cluster_name = self.cluster.cluster_name if self.cluster else empty
        self.resource_group = self.cluster.resource_group_name if self.cluster else empty
        self.outputs: dict[str, Any] = {
            "endpointUrl": self.endpoint_url, "gatewayService": self.gateway_service, "namespace": self.namespace,
            "images": self.images, "dashboardUrl": self.dashboard_url, "kubeconfig": self.kubeconfig,
            "specSha256": self.spec_sha256, "tier": self.tier}
        if self.cluster is not None:
            self.outputs |= {"clusterName": self.cluster_name, "resourceGroup": self.resource_group}
        claim_child_names(self)
        self.register_outputs(self.outputs)
