"""KubePrometheusStack: the bundled monitoring mode, kube-prometheus-stack as a Helm release with values from
the spec, in the monitoring namespace, before the deployment's PodMonitors and PrometheusRule need its CRDs."""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.crd_installers import MONITORING_GROUP, register_installer
from slm_deploy.errors import SlmDeployError
from slm_deploy.kubernetes_workloads import create_objects
from slm_deploy.namespace_claims import Claim, register_claim
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.kubernetes.namespace import namespace
from slm_deploy.render.monitoring.context import monitored
from slm_deploy.render.monitoring.kube_prometheus_stack import CHART, CHART_REPOSITORY, CHART_VERSION, RELEASE, values
from slm_deploy.secret_values import kubernetes_secrets, read_secret_values
from slm_deploy.spec.consistency import cluster_target, in_monitoring_namespace, kubernetes_target
from slm_deploy.spec.secret_uses import backend_of
from slm_deploy.spec.loader import Deployment

GRAFANA_PORT = 80
"""The port of the chart's Grafana Service."""


def monitoring_namespace(deployment: Deployment) -> k8s.meta.v1.ObjectMetaArgsDict:
    """The monitoring namespace, with the deployment's own Pod Security labels (restricted, enforced): the chart's
    values keep every one of its pods within that profile."""
    return {"name": cluster_target(deployment.spec).monitoring_namespace,
            "labels": namespace(deployment)["metadata"]["labels"]}


def monitoring_secret(deployment: Deployment, secret: str) -> bool:
    """Whether Grafana or Alertmanager mounts `secret` from a Kubernetes Secret: the only values this component
    writes (the gateway's keys are KubernetesWorkloads' business)."""
    return backend_of(deployment.spec, secret) == "kubernetes" and in_monitoring_namespace(deployment.spec, secret)


class KubePrometheusStackArgs(TypedDict, total=False):
    """The spec whose monitoring section configures the chart, and the cluster to install it in."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    kubernetes_provider: k8s.Provider
    secret_values: dict[str, pulumi.Input[str]]
    """Values of the secrets Grafana and Alertmanager mount, by config key (secret-<name>); kept secret."""


KUBE_PROMETHEUS_STACK_ARGS = frozenset(KubePrometheusStackArgs.__annotations__)


class KubePrometheusStack(pulumi.ComponentResource):
    """The monitoring namespace, the Secrets its Grafana and Alertmanager mount, then the chart release; depend
    on `release` before creating monitors and rules."""

    namespace: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    """Grafana's in-cluster URL (kubectl port-forward to reach it; it is never exposed)."""

    def __init__(self, name: str, args: KubePrometheusStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:KubePrometheusStack", name, None, opts)
        values_in = checked_args("KubePrometheusStack", args, KUBE_PROMETHEUS_STACK_ARGS)
        deployment = ResolvedSpec(values_in["spec"]).deployment
        if kubernetes_target(deployment.spec) is None:
            raise TypeError("KubePrometheusStack needs a spec with targets.kubernetes or targets.aks")
        namespace_name = cluster_target(deployment.spec).monitoring_namespace
        try:
            plan = deployable_plan(deployment)
            given = read_secret_values((values_in.get("secret_values") or {}).get, deployment,
                                       lambda secret: monitoring_secret(deployment, secret))
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        provider = kubernetes_provider("KubePrometheusStack", values_in)
        base = pulumi.ResourceOptions(parent=self, provider=provider)
        metadata = monitoring_namespace(deployment)
        self.namespace_resource = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata, opts=base)
        mounted = [s for s in kubernetes_secrets(deployment, given) if s["metadata"]["namespace"] == namespace_name]
        ready: list[pulumi.Resource] = [self.namespace_resource]
        ready += create_objects(self, f"{name}-secrets", mounted, provider, after=ready) if mounted else []
        self.release = k8s.helm.v3.Release(
            f"{name}-release", name=RELEASE, chart=CHART, version=CHART_VERSION,
            repository_opts={"repo": CHART_REPOSITORY}, namespace=namespace_name, create_namespace=False,
            atomic=True, cleanup_on_fail=True, values=values(deployment, monitored(deployment, plan)),
            opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=ready)))
        register_installer(provider, (MONITORING_GROUP,), self.release, f"KubePrometheusStack {name!r}",
                           "one cluster holds one bundled monitoring release: set monitoring.mode: existing on every "
                           "other deployment on it (or deploy them with KubernetesWorkloads)")
        register_claim(Claim(f"KubePrometheusStack {name!r}", namespace_name, None, provider, deployment.spec.name,
                             creates=True))
        self.namespace = pulumi.Output.from_input(namespace_name)
        grafana = f"http://{RELEASE}-grafana.{namespace_name}.svc.cluster.local:{GRAFANA_PORT}"
        self.dashboard_url = pulumi.Output.from_input(grafana if deployment.spec.monitoring.grafana.enabled else "")
        claim_child_names(self)
        self.register_outputs({"namespace": self.namespace, "dashboardUrl": self.dashboard_url,
                               "chartVersion": CHART_VERSION})
