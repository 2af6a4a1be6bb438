"""MonitoringStack: the bundled monitoring mode on Kubernetes, created from the manifests `render` writes to
kubernetes/monitoring/ (Prometheus, Alertmanager, Grafana when asked, kube-state-metrics), plus the Secrets its
Alertmanager and Grafana mount."""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.errors import SlmDeployError
from slm_deploy.kubernetes_workloads import create_objects
from slm_deploy.namespace_claims import Claim, register_claim
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.monitoring.kubernetes_stack import render_monitoring_stack
from slm_deploy.render.monitoring.stack_names import PORTS, monitoring_namespace, part_name
from slm_deploy.secret_values import kubernetes_secrets, read_secret_values
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import backend_of, in_monitoring_namespace


def monitoring_secret(deployment: Deployment, secret: str) -> bool:
    """Whether Grafana or Alertmanager mounts `secret` from a Kubernetes Secret: the only values this component
    writes (the gateway's keys are KubernetesWorkloads' business)."""
    return backend_of(deployment.spec, secret) == "kubernetes" and in_monitoring_namespace(deployment.spec, secret)


class MonitoringStackArgs(TypedDict, total=False):
    """The spec whose monitoring section configures the stack, and the cluster to run it on."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    namespace: pulumi.Input[str]
    """The namespace the deployment's pods really run in, when the caller places them (KubernetesWorkloads' own
    `namespace` arg, a name or an Output): the namespace Prometheus scrapes and kube-state-metrics watches."""
    kubernetes_provider: k8s.Provider
    secret_values: dict[str, pulumi.Input[str]]
    """Values of the secrets Grafana and Alertmanager mount, by config key (secret-<name>); kept secret."""


MONITORING_STACK_ARGS = frozenset(MonitoringStackArgs.__annotations__)


class MonitoringStack(pulumi.ComponentResource):
    """The monitoring namespace and every object of the bundled stack, exactly as `render` writes them; the
    Secrets its pods mount are created before the pods."""

    namespace: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    """Grafana's in-cluster URL (kubectl port-forward to reach it; it is never exposed); empty without Grafana."""
    prometheus_url: pulumi.Output[str]
    """The Prometheus KEDA and other in-cluster readers query."""

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:MonitoringStack", name, None, opts)
        values = checked_args("MonitoringStack", args, MONITORING_STACK_ARGS)
        resolved = ResolvedSpec(values["spec"], namespace=values.get("namespace"))
        deployment = resolved.deployment
        if kubernetes_target(deployment.spec) is None:
            raise TypeError("MonitoringStack needs a spec with targets.kubernetes or targets.aks")
        try:
            manifests = render_monitoring_stack(deployment, deployable_plan(deployment))
            given = read_secret_values((values.get("secret_values") or {}).get, deployment,
                                       lambda secret: monitoring_secret(deployment, secret))
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        if not manifests:
            raise TypeError("MonitoringStack needs a spec that monitors its Kubernetes deployment in bundled mode "
                            "(monitoring.enabled, monitoring.mode bundled)")
        provider = kubernetes_provider("MonitoringStack", values)
        namespace = monitoring_namespace(deployment)
        register_claim(Claim(f"MonitoringStack {name!r}", namespace, None, provider, deployment.spec.name,
                             creates=True))
        mounted = [s for s in kubernetes_secrets(deployment, given) if s["metadata"]["namespace"] == namespace]
        manifests = resolved.bind(manifests)
        secrets_first = manifests[:1] + mounted
        created: list[pulumi.Resource] = [*create_objects(self, name, secrets_first, provider)]
        self.resources = [*created, *create_objects(self, name, manifests[1:], provider, after=created)]
        self.namespace = pulumi.Output.from_input(namespace)
        grafana = f"http://{part_name(deployment, 'grafana')}.{namespace}.svc.cluster.local:{PORTS['grafana']}"
        self.dashboard_url = pulumi.Output.from_input(grafana if deployment.spec.monitoring.grafana.enabled else "")
        prometheus = f"http://{part_name(deployment, 'prometheus')}.{namespace}.svc:{PORTS['prometheus']}"
        self.prometheus_url = pulumi.Output.from_input(prometheus)
        claim_child_names(self)
        self.register_outputs({"namespace": self.namespace, "dashboardUrl": self.dashboard_url,
                               "prometheusUrl": self.prometheus_url})
