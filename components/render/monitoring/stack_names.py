"""Names, labels and ports of the bundled Kubernetes monitoring stack's parts, shared by its objects and policies."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import MANAGED_BY, MAX_STATEFULSET_NAME, bounded_name
from slm_deploy.render.monitoring.kubernetes_config import KUBE_STATE_METRICS_PORT
from slm_deploy.runtimes.monitoring import ALERTMANAGER_PORT, GRAFANA_PORT, PROMETHEUS_PORT
from slm_deploy.spec.consistency import cluster_target
from slm_deploy.spec.loader import Deployment

PORTS = {"prometheus": PROMETHEUS_PORT, "alertmanager": ALERTMANAGER_PORT, "grafana": GRAFANA_PORT,
         "kube-state-metrics": KUBE_STATE_METRICS_PORT}
"""Each part and the port its Service and pods serve on."""


def part_name(deployment: Deployment, part: str) -> str:
    """<deployment>-<part>: the name of a part's objects (and its Service's host name in the namespace), short enough
    for the StatefulSets Prometheus, Alertmanager and Grafana run as."""
    return bounded_name(deployment.spec.name, part, MAX_STATEFULSET_NAME)


def monitoring_namespace(deployment: Deployment) -> str:
    """Where the stack runs (targets.kubernetes.monitoring_namespace)."""
    return cluster_target(deployment.spec).monitoring_namespace


def part_selector(deployment: Deployment, part: str) -> dict[str, str]:
    """The labels that pick one part's pods."""
    return {"app.kubernetes.io/instance": deployment.spec.name, "app.kubernetes.io/component": part}


def part_labels(deployment: Deployment, part: str) -> dict[str, str]:
    """A part's pod labels; Prometheus also carries the scraper labels the workloads' NetworkPolicies admit."""
    labels = {**MANAGED_BY, **part_selector(deployment, part)}
    if part == "prometheus":
        labels |= dict(deployment.spec.monitoring.scraper_labels)
    return labels


def monitoring_meta(deployment: Deployment, name: str) -> dict[str, Any]:
    """Metadata of an object in the monitoring namespace."""
    return {"name": name, "namespace": monitoring_namespace(deployment), "labels": dict(MANAGED_BY)}


def prometheus_service_address(deployment: Deployment) -> str:
    """The bundled Prometheus's in-cluster URL (KEDA's queries, the README)."""
    return f"http://{part_name(deployment, 'prometheus')}.{monitoring_namespace(deployment)}.svc:{PROMETHEUS_PORT}"
