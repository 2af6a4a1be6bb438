"""Kubernetes monitoring objects for a Prometheus the deployment does not bring: PodMonitors for every scraped pod,
the PrometheusRule and dashboards as ConfigMaps for the Grafana sidecar (an existing kube-prometheus-stack); on AKS
the managed agent's PodMonitors instead. The bundled mode's own stack is kubernetes_stack.py."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import MANAGED_BY, Manifest, bounded_name, meta, selector
from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.rules import rule_groups
from slm_deploy.render.monitoring.texts import dashboard_files
from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode

OPERATOR_API = "monitoring.coreos.com/v1"
AZURE_MONITOR_API = "azmonitoring.coreos.com/v1"
"""The managed Prometheus agent (ama-metrics) reads PodMonitors of this group, not the operator's."""
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
"""The label the Grafana dashboards sidecar (kube-prometheus-stack's grafana chart) watches."""


def _labels(deployment: Deployment) -> dict[str, str]:
    return {**MANAGED_BY, **deployment.spec.monitoring.selector_labels}


def pod_monitor(deployment: Deployment, m: Monitored, service: ServicePlan) -> Manifest:
    """Scrape one service's pods, labelling every series as Compose does (deployment, runtime, component, model)."""
    managed = monitoring_mode(deployment.spec) == "managed"
    relabel = [{"targetLabel": key, "replacement": value, "action": "replace"}
               for key, value in m.target_labels(service).items()]
    endpoint = {"port": "metrics" if service.metrics_port else "http", "path": service.metrics_path,
                "interval": f"{m.scrape_interval_seconds}s", "relabelings": relabel}
    return {"apiVersion": AZURE_MONITOR_API if managed else OPERATOR_API, "kind": "PodMonitor",
            "metadata": meta(deployment, service.name, _labels(deployment)),
            "spec": {"selector": {"matchLabels": selector(service)}, "podMetricsEndpoints": [endpoint]}}


def prometheus_rule(deployment: Deployment, m: Monitored) -> Manifest:
    """The rule groups for the Prometheus operator (the same groups managed Prometheus receives on AKS)."""
    return {"apiVersion": OPERATOR_API, "kind": "PrometheusRule",
            "metadata": meta(deployment, bounded_name(m.name, "rules"), _labels(deployment)),
            "spec": {"groups": rule_groups(m, "kubernetes")}}


def dashboards_config_map(deployment: Deployment, m: Monitored) -> Manifest:
    """Every dashboard in one ConfigMap carrying the sidecar's label."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta(deployment, bounded_name(m.name, "dashboards"), {**MANAGED_BY, **DASHBOARD_LABEL}),
            "data": dict(dashboard_files(m))}


def monitoring_objects(deployment: Deployment, m: Monitored) -> list[Manifest]:
    """What the cluster's Prometheus needs in the deployment's namespace: PodMonitors always, rules and dashboards
    unless Azure holds them; in bundled mode, whose own Prometheus discovers the pods and loads the rules from its
    files, only the Role that lets it and kube-state-metrics read the pods and Jobs."""
    if monitoring_mode(deployment.spec) == "bundled":
        from slm_deploy.render.monitoring.kubernetes_stack_access import access_objects  # noqa: PLC0415

        return access_objects(deployment)
    objects = [pod_monitor(deployment, m, s) for s in m.scraped]
    if monitoring_mode(deployment.spec) != "managed":
        objects += [prometheus_rule(deployment, m), dashboards_config_map(deployment, m)]
    return objects


def scraper_peer(deployment: Deployment, monitoring_namespace: str) -> dict[str, Any]:
    """The NetworkPolicy peer of the Prometheus that really scrapes: the spec's pods in the monitoring
    namespace, or the managed agent's replica set in kube-system."""
    if monitoring_mode(deployment.spec) == "managed":
        namespace, pods = "kube-system", {"rsName": "ama-metrics"}
    else:
        namespace, pods = monitoring_namespace, dict(deployment.spec.monitoring.scraper_labels)
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": pods}
    return peer
