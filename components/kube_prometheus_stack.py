"""KubePrometheusStack: the bundled monitoring mode, kube-prometheus-stack as a Helm release with values from
the spec, in the monitoring namespace, before the deployment's PodMonitors and PrometheusRule need its CRDs."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.render.kubernetes import Manifest
from slm_deploy.render.kubernetes.namespace import namespace
from slm_deploy.render.monitoring.context import monitored
from slm_deploy.render.monitoring.kube_prometheus_stack import CHART, CHART_REPOSITORY, CHART_VERSION, RELEASE, values
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment


def monitoring_namespace(deployment: Deployment) -> dict:
    """The monitoring namespace, with the deployment's own Pod Security labels (restricted, enforced): the chart's
    values keep every one of its pods within that profile."""
    metadata = namespace(deployment)["metadata"]
    return {**metadata, "name": kubernetes_target(deployment.spec).monitoring_namespace}


class KubePrometheusStack(pulumi.ComponentResource):
    """The monitoring namespace, the Secrets its Grafana and Alertmanager mount, then the chart release; depend
    on `release` before creating monitors and rules."""

    def __init__(self, name: str, deployment: Deployment, plan: RuntimePlan, secrets: list[Manifest],
                 provider: k8s.Provider | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:kubernetes:KubePrometheusStack", name, None, opts)
        base = pulumi.ResourceOptions(parent=self, provider=provider)
        metadata = monitoring_namespace(deployment)
        self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata, opts=base)
        ready: list[pulumi.Resource] = [self.namespace]
        mounted = [s for s in secrets if s["metadata"]["namespace"] == metadata["name"]]
        if mounted:
            ready.append(KubernetesWorkloads(f"{name}-secrets", mounted, provider=provider, opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace])))
        self.release = k8s.helm.v3.Release(
            f"{name}-release", name=RELEASE, chart=CHART, version=CHART_VERSION,
            repository_opts={"repo": CHART_REPOSITORY}, namespace=metadata["name"], create_namespace=False,
            atomic=True, cleanup_on_fail=True, values=values(deployment, monitored(deployment, plan)),
            opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=ready)))
        self.register_outputs({"namespace": metadata["name"], "chartVersion": CHART_VERSION})
