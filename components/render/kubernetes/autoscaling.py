"""KEDA ScaledObjects on the normalised queue, read from the Prometheus that really holds it.

Scale from zero wakes: with no runtime pod, the gateway (always at least one replica) holds incoming
requests while it waits for a runtime to accept connections and exports how many it holds
(`slm_gateway_upstream_waiting_requests`). The trigger adds that gauge to the queue, so the first request
activates the ScaledObject; an empty result reads as 0 (`or vector(0)`) instead of an error.
"""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest, bounded_name, meta
from slm_deploy.render.monitoring.stack_names import prometheus_service_address
from slm_deploy.render.monitoring.vocabulary import GATEWAY_UPSTREAM_WAITING
from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.spec.consistency import cluster_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode

KEDA_API = "keda.sh/v1alpha1"
PROMETHEUS_PORT = 9090
POLLING_SECONDS = 15
COOLDOWN_SECONDS = 300
SCALE_DOWN_WINDOW_SECONDS = 300
MANAGED_QUERY_ENDPOINT = "https://azure-monitor-workspace.query-endpoint.invalid"
"""Stands in for the Azure Monitor workspace's query endpoint, which exists only once Azure creates the
workspace: `pulumi up` writes the real one; set monitoring.prometheus_url to render it."""


def prometheus_address(deployment: Deployment) -> str:
    """The Prometheus KEDA asks: the spec's, else the bundled stack's Service, Azure's, or the operator's
    `prometheus-operated` Service of an existing install."""
    monitoring = deployment.spec.monitoring
    if monitoring.prometheus_url:
        return monitoring.prometheus_url
    if monitoring_mode(deployment.spec) == "managed":
        return MANAGED_QUERY_ENDPOINT
    if monitoring_mode(deployment.spec) == "bundled":
        return prometheus_service_address(deployment)
    namespace = cluster_target(deployment.spec).monitoring_namespace
    return f"http://prometheus-operated.{namespace}.svc:{PROMETHEUS_PORT}"


def queue_query(deployment: Deployment) -> str:
    """Requests waiting for a slot in the runtime (normalised) plus those the gateway holds for a runtime."""
    name = deployment.spec.name
    return (f'(sum(slm:requests_waiting{{deployment="{name}"}}) or vector(0)) + '
            f'(sum({GATEWAY_UPSTREAM_WAITING}{{deployment="{name}"}}) or vector(0))')


def trigger_authentication_name(deployment: Deployment) -> str:
    """The TriggerAuthentication that gives KEDA the workload identity allowed to read the workspace."""
    return bounded_name(deployment.spec.name, "managed-prometheus")


def trigger_authentication(deployment: Deployment) -> list[Manifest]:
    """On managed Prometheus: Azure workload identity for KEDA's queries (`pulumi up` sets the identity)."""
    if monitoring_mode(deployment.spec) != "managed":
        return []
    return [{"apiVersion": KEDA_API, "kind": "TriggerAuthentication",
             "metadata": meta(deployment, trigger_authentication_name(deployment)),
             "spec": {"podIdentity": {"provider": "azure-workload"}}}]


def scaled_object(deployment: Deployment, runtime: ServicePlan) -> Manifest:
    """Scale the runtime Deployment between the spec's bounds on its queue; to zero only when the spec asks."""
    scaling = deployment.spec.serving.autoscaling
    metadata: dict[str, Any] = {"serverAddress": prometheus_address(deployment), "query": queue_query(deployment),
                                "threshold": str(scaling.target_queue_depth), "activationThreshold": "0",
                                "ignoreNullValues": "false"}
    trigger: dict[str, Any] = {"type": "prometheus", "name": "queue", "metadata": metadata}
    if monitoring_mode(deployment.spec) == "managed":
        trigger["authenticationRef"] = {"name": trigger_authentication_name(deployment)}
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": runtime.name},
        "pollingInterval": POLLING_SECONDS,
        "cooldownPeriod": COOLDOWN_SECONDS,
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
    }
    if scaling.scale_to_zero and scaling.min_replicas > 0:
        spec["idleReplicaCount"] = 0
    spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {
        "scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS,
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}
    spec["triggers"] = [trigger]
    return {"apiVersion": KEDA_API, "kind": "ScaledObject",
            "metadata": meta(deployment, runtime.name, dict(runtime.labels)), "spec": spec}
