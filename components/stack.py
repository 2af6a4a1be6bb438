"""SlmDeployment: the top-level Pulumi component a stack creates from one deployment spec."""

from __future__ import annotations

import pulumi

from slm_deploy.errors import SlmDeployError
from slm_deploy.image_builds import ImageBuilds
from slm_deploy.image_pinning import pin_built_images
from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.render.images import build_owners
from slm_deploy.render.kubernetes import Manifest, render_kubernetes
from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.stack_settings import StackSettings, read_settings


def _aks_module():
    """The AKS component, imported only for AKS targets: pulumi-azure-native is the optional `aks` extra."""
    try:
        import slm_deploy.aks_cluster as aks_cluster
    except ImportError as exc:
        raise pulumi.RunError("targets.aks needs pulumi-azure-native: pip install 'slm-deploy[aks]'") from exc
    return aks_cluster


def _gateway_service(manifests: list[Manifest]) -> str | None:
    return next((m["metadata"]["name"] for m in manifests if m["kind"] == "Service"
                 and m["metadata"].get("labels", {}).get("slm-deploy.io/component") == "gateway"), None)


class SlmDeployment(pulumi.ComponentResource):
    """Everything one spec turns on, as child components; the same objects `render` writes."""

    def __init__(self, name: str, deployment: Deployment, settings: StackSettings | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:Deployment", name, None, opts)
        spec = deployment.spec
        try:
            settings = settings or read_settings(pulumi.Config("slm-deploy"), pulumi.get_stack())
            plan = plan_deployment(deployment)
            manifests = render_kubernetes(deployment, plan) if kubernetes_target(spec) and plan.services else []
            if spec.targets.aks is not None:
                _aks_module().check_aks_target(spec, settings)
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        child = pulumi.ResourceOptions(parent=self)
        outputs: dict[str, object] = {"specSha256": deployment.spec_hash, "tier": deployment.sizing.tier}
        self.images = self._images(name, deployment, plan, settings, child)
        self.cluster = None
        self.workloads = None
        self.monitoring = None
        if spec.targets.aks is not None:
            self.cluster = _aks_module().AksCluster(f"{name}-aks", spec, settings, opts=child)
            outputs["clusterName"] = self.cluster.cluster.name
            outputs["resourceGroup"] = self.cluster.resource_group.name
        if self.cluster is not None and self.cluster.prometheus is not None:
            manifests = self._managed_monitoring(name, deployment, plan, manifests, child)
        provider = self.cluster.provider if self.cluster else None
        workload_opts = child
        if manifests and spec.monitoring.enabled and monitoring_mode(spec) == "bundled":
            from slm_deploy.kube_prometheus_stack import KubePrometheusStack

            self.monitoring = KubePrometheusStack(f"{name}-monitoring", deployment, plan, provider, opts=child)
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.monitoring.release])
        if manifests:
            refs = self.images.refs if self.images else {}
            self.workloads = KubernetesWorkloads(
                f"{name}-k8s", pin_built_images(manifests, refs), provider=provider, opts=workload_opts)
            outputs["namespace"] = namespace_of(spec)
            gateway = _gateway_service(manifests)
            if gateway:
                outputs["gatewayService"] = gateway
        if self.images:
            outputs["images"] = self.images.refs
        self.outputs = outputs
        self.register_outputs(outputs)

    def _managed_monitoring(self, name: str, deployment: Deployment, plan: RuntimePlan, manifests: list[Manifest],
                            opts: pulumi.ResourceOptions) -> list[Manifest]:
        """Rule groups, KEDA's identity and Managed Grafana on the workspace; KEDA's queries bound to it."""
        from slm_deploy.aks_monitoring import ManagedMonitoring, bind_managed_prometheus
        from slm_deploy.render.monitoring.azure import prometheus_rule_groups
        from slm_deploy.render.monitoring.context import monitored

        spec = deployment.spec
        groups = prometheus_rule_groups(monitored(deployment, plan), spec.monitoring.scrape_interval_seconds)
        self.monitoring = ManagedMonitoring(f"{name}-monitoring", spec, groups, self.cluster.prometheus,
                                            self.cluster.cluster, self.cluster.resource_group.name, opts=opts)
        endpoint = spec.monitoring.prometheus_url or self.monitoring.query_endpoint
        return bind_managed_prometheus(manifests, endpoint, self.monitoring.keda_identity.client_id)

    @staticmethod
    def _images(name: str, deployment: Deployment, plan: RuntimePlan, settings: StackSettings,
                opts: pulumi.ResourceOptions) -> ImageBuilds | None:
        """Builds exist when the docker target is on and some service owns a build."""
        if deployment.spec.targets.docker is None or not build_owners(plan):
            return None
        return ImageBuilds(f"{name}-images", deployment, plan, settings, opts=opts)
