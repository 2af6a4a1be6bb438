"""SlmDeployment: the top-level Pulumi component a stack creates from one deployment spec."""

from __future__ import annotations

from types import SimpleNamespace

import pulumi

from slm_deploy.errors import SlmDeployError
from slm_deploy.image_builds import ImageBuilds
from slm_deploy.image_pinning import pin_built_images
from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.render.images import build_owners
from slm_deploy.render.kubernetes import Manifest, render_kubernetes
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.secret_values import kubernetes_secrets, read_secret_values, with_client_id
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secret_uses import backend_of
from slm_deploy.stack_settings import StackSettings, read_settings


def _aks_module():
    """The AKS component, imported only for AKS targets: pulumi-azure-native is the optional `aks` extra."""
    try:
        import slm_deploy.aks_cluster as aks_cluster
        import slm_deploy.key_vault as key_vault
    except ImportError as exc:
        raise pulumi.RunError("targets.aks needs pulumi-azure-native: pip install 'slm-deploy[aks]'") from exc
    return SimpleNamespace(AksCluster=aks_cluster.AksCluster, check_aks_target=aks_cluster.check_aks_target,
                           KeyVaultSecrets=key_vault.KeyVaultSecrets)


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
            plan = deployable_plan(deployment)
            manifests = render_kubernetes(deployment, plan) if kubernetes_target(spec) and plan.services else []
            if spec.targets.aks is not None:
                _aks_module().check_aks_target(spec, settings)
            given = settings.secret_values
            values = read_secret_values(pulumi.Config("slm-deploy").get_secret if given is None else given.get,
                                        deployment)
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        child = pulumi.ResourceOptions(parent=self)
        outputs: dict[str, object] = {"specSha256": deployment.spec_hash, "tier": deployment.sizing.tier}
        self.images = self._images(name, deployment, plan, settings, child)
        self.cluster = None
        self.workloads = None
        self.monitoring = None
        self.key_vaults = None
        if spec.targets.aks is not None:
            self.cluster = _aks_module().AksCluster(f"{name}-aks", spec, settings, opts=child)
            outputs["clusterName"] = self.cluster.cluster.name
            outputs["resourceGroup"] = self.cluster.resource_group.name
            if any(backend_of(spec, secret) == "azure-key-vault" for secret in spec.secrets):
                self.key_vaults = self._key_vaults(name, deployment, values, child)
                manifests = with_client_id(manifests, spec.name, self.key_vaults.client_id)
        if self.cluster is not None and self.cluster.prometheus is not None:
            manifests = self._managed_monitoring(name, deployment, plan, manifests, child)
        provider = self.cluster.provider if self.cluster else None
        secrets = kubernetes_secrets(deployment, values) if manifests else []
        workload_opts = child
        if manifests and spec.monitoring.enabled and monitoring_mode(spec) == "bundled":
            from slm_deploy.kube_prometheus_stack import KubePrometheusStack

            self.monitoring = KubePrometheusStack(f"{name}-monitoring", deployment, plan, secrets, provider,
                                                  opts=child)
            workload_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.monitoring.release])
        if manifests:
            refs = self.images.refs if self.images else {}
            namespace = namespace_of(spec)
            own = [m for m in secrets if m["metadata"]["namespace"] == namespace]
            self.workloads = KubernetesWorkloads(
                f"{name}-k8s", pin_built_images(own + manifests, refs), provider=provider, opts=workload_opts)
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

    def _key_vaults(self, name: str, deployment: Deployment, values: dict[str, pulumi.Output[str]],
                    opts: pulumi.ResourceOptions):
        """The Key Vaults and the workload identity, federated with the new cluster's OIDC issuer."""
        cluster = self.cluster
        issuer = cluster.cluster.oidc_issuer_profile.apply(lambda profile: profile.issuer_url if profile else None)
        return _aks_module().KeyVaultSecrets(f"{name}-key-vault", deployment, values, cluster.resource_group.name,
                                             cluster.workspace.id, issuer, opts=opts)

    @staticmethod
    def _images(name: str, deployment: Deployment, plan: RuntimePlan, settings: StackSettings,
                opts: pulumi.ResourceOptions) -> ImageBuilds | None:
        """Builds exist when the docker target is on and some service owns a build."""
        if deployment.spec.targets.docker is None or not build_owners(plan):
            return None
        return ImageBuilds(f"{name}-images", deployment, plan, settings, opts=opts)
