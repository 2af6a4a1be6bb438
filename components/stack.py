"""SlmDeployment: the top-level Pulumi component a stack creates from one deployment spec."""

from __future__ import annotations

import pulumi

from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.render.kubernetes import render_kubernetes
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment


class SlmDeployment(pulumi.ComponentResource):
    """Everything one spec turns on, as child components; the same objects `render` writes."""

    def __init__(self, name: str, deployment: Deployment, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:Deployment", name, None, opts)
        plan = plan_deployment(deployment)
        self.workloads = None
        outputs: dict[str, object] = {"specSha256": deployment.spec_hash, "tier": deployment.sizing.tier}
        if kubernetes_target(deployment.spec) and plan.services:
            manifests = render_kubernetes(deployment, plan)
            self.workloads = KubernetesWorkloads(f"{name}-k8s", manifests, opts=pulumi.ResourceOptions(parent=self))
            outputs["namespace"] = namespace_of(deployment.spec)
        self.outputs = outputs
        self.register_outputs(outputs)
