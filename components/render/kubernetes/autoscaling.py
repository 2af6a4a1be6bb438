"""KEDA ScaledObjects on each runtime's queue signal, read from the monitoring namespace's Prometheus."""

from __future__ import annotations

from typing import Any

from slm_deploy.errors import Problem
from slm_deploy.render.kubernetes.common import Manifest, meta
from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment

KEDA_API = "keda.sh/v1alpha1"
PROMETHEUS_PORT = 9090
POLLING_SECONDS = 15
COOLDOWN_SECONDS = 300
SCALE_DOWN_WINDOW_SECONDS = 300
QUEUE_METRIC = {"vllm": "vllm:num_requests_waiting", "llamacpp": "llamacpp:requests_deferred"}
"""Runtimes that report their own queue; the others scale on the gateway's in-flight requests."""
GATEWAY_IN_FLIGHT = "slm_gateway_in_flight_requests"
GATEWAY_REQUESTS = "slm_gateway_requests_total"


def prometheus_address(deployment: Deployment) -> str:
    """The Prometheus the monitoring namespace runs (Service `prometheus`, port 9090)."""
    target = kubernetes_target(deployment.spec)
    return f"http://prometheus.{target.monitoring_namespace}.svc:{PROMETHEUS_PORT}"


def _selector(deployment: Deployment, service: ServicePlan) -> str:
    return f'namespace="{namespace_of(deployment.spec)}",service="{service.name}"'


def _own_queue_metric(runtime: ServicePlan) -> str | None:
    return QUEUE_METRIC.get(runtime.runtime) if runtime.metrics_path else None


def scaling_problems(deployment: Deployment, runtime: ServicePlan, gateway: ServicePlan | None) -> list[Problem]:
    """Why the spec's autoscaling has no signal to scale on; run before rendering, by the deployability check."""
    scaling = deployment.spec.serving.autoscaling
    if not scaling.enabled or kubernetes_target(deployment.spec) is None or gateway is not None:
        return []
    problems = []
    if _own_queue_metric(runtime) is None:
        problems.append(Problem("serving.autoscaling.enabled",
                                f"{runtime.runtime} reports no queue metric and there is no gateway to count requests",
                                allowed="serving.auth.enabled: true (the gateway measures in-flight requests)"))
    if scaling.scale_to_zero:
        problems.append(Problem("serving.autoscaling.scale_to_zero",
                                "waking a runtime from zero needs the gateway to see the first requests",
                                allowed="serving.auth.enabled: true"))
    return problems


def queue_signal(deployment: Deployment, runtime: ServicePlan, gateway: ServicePlan) -> tuple[str, str]:
    """(metric name, PromQL) the runtime scales on: its own queue, else the gateway's in-flight count
    (scaling_problems has made sure one of them exists)."""
    metric = _own_queue_metric(runtime)
    if metric:
        return metric, f"sum({metric}{{{_selector(deployment, runtime)}}})"
    return GATEWAY_IN_FLIGHT, f"sum({GATEWAY_IN_FLIGHT}{{{_selector(deployment, gateway)}}})"


def _trigger(deployment: Deployment, name: str, query: str, threshold: int, activation: str) -> dict[str, Any]:
    return {"type": "prometheus", "name": name, "metadata": {
        "serverAddress": prometheus_address(deployment), "query": query,
        "threshold": str(threshold), "activationThreshold": activation}}


def scaled_object(deployment: Deployment, runtime: ServicePlan, gateway: ServicePlan | None) -> Manifest:
    """Scale the runtime Deployment between the spec's bounds on its queue; to zero only when the spec asks."""
    scaling = deployment.spec.serving.autoscaling
    _, query = queue_signal(deployment, runtime, gateway)  # type: ignore[arg-type] - checked by scaling_problems
    triggers = [_trigger(deployment, "queue", query, scaling.target_queue_depth, "0")]
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": runtime.name},
        "pollingInterval": POLLING_SECONDS,
        "cooldownPeriod": COOLDOWN_SECONDS,
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
    }
    if scaling.scale_to_zero and gateway is not None:
        if scaling.min_replicas > 0:
            spec["idleReplicaCount"] = 0
        wake = f"sum(rate({GATEWAY_REQUESTS}{{{_selector(deployment, gateway)}}}[2m]))"
        triggers.append(_trigger(deployment, "gateway-requests", wake, scaling.target_queue_depth, "0"))
    spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {
        "scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS,
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}
    spec["triggers"] = triggers
    return {"apiVersion": KEDA_API, "kind": "ScaledObject",
            "metadata": meta(deployment, runtime.name, dict(runtime.labels)), "spec": spec}
