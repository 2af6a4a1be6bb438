"""SlmDeployment: the top-level Pulumi component, composed of the per-concern components for one spec."""

from types import SimpleNamespace
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.component_inputs import ResolvedSpec, checked_args
from slm_deploy.errors import SlmDeployError
from slm_deploy.image_builds import ImageBuilds
from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.images import build_owners
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secret_uses import backend_of
from slm_deploy.stack_settings import AksEncryptionArgs, settings_from_args


def _aks_module() -> SimpleNamespace:
    """The AKS components, imported only for AKS targets: pulumi-azure-native is the optional `aks` extra."""
    try:
        import slm_deploy.aks_add_ons as aks_add_ons
        import slm_deploy.aks_cluster as aks_cluster
        import slm_deploy.aks_monitoring as aks_monitoring
        import slm_deploy.key_vault as key_vault
    except ImportError as exc:
        raise pulumi.RunError("targets.aks needs pulumi-azure-native: pip install 'slm-deploy[aks]'") from exc
    return SimpleNamespace(AksCluster=aks_cluster.AksCluster, AksAddOns=aks_add_ons.AksAddOns,
                           KeyVaultSecrets=key_vault.KeyVaultSecrets, ManagedMonitoring=aks_monitoring.ManagedMonitoring)


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
    acme_server: str
    acme_email: str


SLM_DEPLOYMENT_ARGS = frozenset(SlmDeploymentArgs.__annotations__)
IMAGE_KEYS = ("spec", "build_dir", "registry", "registry_username", "registry_password", "platforms", "ca_bundle")
AKS_KEYS = ("spec", "kubelogin_mode", "aks_encryption", "admin_group_object_ids", "acr_resource_group", "registry")


def _pick(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: values[key] for key in keys if values.get(key) is not None}


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
        self.images_component = None
        if spec.targets.docker is not None and build_owners(plan):
            self.images_component = ImageBuilds(f"{name}-images", _pick(values, IMAGE_KEYS), opts=child)
        self.cluster = self.add_ons = self.key_vaults = self.monitoring = self.workloads = None
        provider = values.get("kubernetes_provider")
        workload_args = _pick(values, ("spec", "registry", "namespace", "secret_values"))
        if self.images_component is not None:
            workload_args["images"] = self.images_component.images
        if spec.targets.aks is not None:
            provider = self._aks(name, deployment, values, workload_args, child)
        if provider is not None:
            workload_args["kubernetes_provider"] = provider
        workload_opts = child
        if kubernetes_target(spec) and spec.monitoring.enabled and monitoring_mode(spec) == "bundled":
            from slm_deploy.kube_prometheus_stack import KubePrometheusStack

            self.monitoring = KubePrometheusStack(
                f"{name}-monitoring", _pick({**values, "kubernetes_provider": provider},
                                            ("spec", "kubernetes_provider", "secret_values")), opts=child)
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.monitoring.release])
        if kubernetes_target(spec) and plan.services:
            self.workloads = KubernetesWorkloads(f"{name}-k8s", workload_args, opts=workload_opts)
        self._declare_outputs(deployment)

    def _aks(self, name: str, deployment: Deployment, values: dict[str, Any], workload_args: dict[str, Any],
             opts: pulumi.ResourceOptions) -> pulumi.Output[k8s.Provider]:
        """The cluster, its add-ons, Key Vaults and managed monitoring; the workloads bound to what they make."""
        aks, spec = _aks_module(), deployment.spec
        self.cluster = aks.AksCluster(f"{name}-aks", _pick(values, AKS_KEYS), opts=opts)
        provider = self.cluster.provider
        self.add_ons = aks.AksAddOns(f"{name}-add-ons", {**_pick(values, ("spec", "acme_server", "acme_email")),
                                                          "kubernetes_provider": provider}, opts=opts)
        if any(backend_of(spec, secret) == "azure-key-vault" for secret in spec.secrets):
            self.key_vaults = aks.KeyVaultSecrets(f"{name}-key-vault", {
                **_pick(values, ("spec", "namespace", "secret_values", "existing_vault_ids")),
                "resource_group_name": self.cluster.resource_group.name, "workspace_id": self.cluster.workspace.id,
                "oidc_issuer_url": self.cluster.oidc_issuer_url}, opts=opts)
            workload_args["key_vault_client_id"] = self.key_vaults.client_id
        if self.cluster.prometheus is not None:
            self.monitoring = self._managed_monitoring(name, deployment, opts)
            workload_args["prometheus_query_endpoint"] = (spec.monitoring.prometheus_url
                                                          or self.monitoring.query_endpoint)
            workload_args["keda_client_id"] = self.monitoring.keda_identity.client_id
        return provider

    def _managed_monitoring(self, name: str, deployment: Deployment, opts: pulumi.ResourceOptions):
        """Rule groups, KEDA's identity and Managed Grafana on the cluster's Azure Monitor workspace."""
        from slm_deploy.render.monitoring.azure import prometheus_rule_groups
        from slm_deploy.render.monitoring.context import monitored

        spec = deployment.spec
        groups = prometheus_rule_groups(monitored(deployment, deployable_plan(deployment)),
                                        spec.monitoring.scrape_interval_seconds)
        return _aks_module().ManagedMonitoring(f"{name}-monitoring", spec, groups, self.cluster.prometheus,
                                               self.cluster.cluster, self.cluster.resource_group.name, opts=opts)

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
        self.outputs: dict[str, Any] = {
            "endpointUrl": self.endpoint_url, "gatewayService": self.gateway_service, "namespace": self.namespace,
            "images": self.images, "dashboardUrl": self.dashboard_url, "kubeconfig": self.kubeconfig,
            "specSha256": self.spec_sha256, "tier": deployment.sizing.tier}
        if self.cluster is not None:
            self.outputs |= {"clusterName": self.cluster.cluster_name,
                             "resourceGroup": self.cluster.resource_group_name}
        self.register_outputs(self.outputs)
