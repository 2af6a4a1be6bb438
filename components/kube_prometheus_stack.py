"""KubePrometheusStack: the bundled monitoring mode, kube-prometheus-stack as a Helm release with values from
the spec, in the monitoring namespace, before the deployment's PodMonitors and PrometheusRule need its CRDs."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from slm_deploy.render.monitoring.context import monitored
from slm_deploy.render.monitoring.kube_prometheus_stack import CHART, CHART_REPOSITORY, CHART_VERSION, RELEASE, values
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment


def monitoring_namespace(deployment: Deployment) -> dict:
    """The monitoring namespace: Pod Security baseline enforced (the operator's admission jobs need no more),
    restricted audited and warned so every deviation is recorded."""
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/audit": "restricted",
              "pod-security.kubernetes.io/warn": "restricted", "app.kubernetes.io/managed-by": "slm-deploy"}
    return {"name": kubernetes_target(deployment.spec).monitoring_namespace, "labels": labels}


class KubePrometheusStack(pulumi.ComponentResource):
    """The monitoring namespace and the chart release; depend on `release` before creating monitors and rules."""

    def __init__(self, name: str, deployment: Deployment, plan: RuntimePlan, provider: k8s.Provider | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:kubernetes:KubePrometheusStack", name, None, opts)
        base = pulumi.ResourceOptions(parent=self, provider=provider)
        metadata = monitoring_namespace(deployment)
        self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata, opts=base)
        self.release = k8s.helm.v3.Release(
            f"{name}-release", name=RELEASE, chart=CHART, version=CHART_VERSION,
            repository_opts={"repo": CHART_REPOSITORY}, namespace=metadata["name"], create_namespace=False,
            atomic=True, cleanup_on_fail=True, values=values(deployment, monitored(deployment, plan)),
            opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[self.namespace])))
        self.register_outputs({"namespace": metadata["name"], "chartVersion": CHART_VERSION})
