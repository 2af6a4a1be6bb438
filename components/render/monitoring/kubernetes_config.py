"""Configuration files of the bundled Kubernetes monitoring stack: Prometheus discovering the deployment's pods
through the API (kubernetes_sd, limited to the deployment's namespace), the same rules, Alertmanager routing and
Grafana provisioning the Compose stack renders."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import selector
from slm_deploy.render.monitoring.alertmanager import alertmanager_config
from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.prometheus import ALERTMANAGER_PORT, RULES_DIR
from slm_deploy.render.monitoring.texts import rule_file
from slm_deploy.render.serialize import to_yaml
from slm_deploy.runtimes.plan import SECRETS_ROOT, ServicePlan
from slm_deploy.spec.loader import Deployment

KUBE_STATE_METRICS_PORT = 8080


def kubernetes_rule_file(m: Monitored) -> str:
    """The rule file's name (a ConfigMap key) under the Prometheus configuration folder's rules/."""
    return f"{m.name}-kubernetes.rules.yml"


def _label(name: str) -> str:
    """A pod label as kubernetes_sd exposes it: __meta_kubernetes_pod_label_<name, non-alphanumerics as _>."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in name)


def pod_scrape_job(m: Monitored, service: ServicePlan, namespace: str) -> dict[str, Any]:
    """One service's pods in the deployment's namespace, on their metrics port, labelled as the PodMonitors of
    the existing mode label them (namespace, pod, container) plus deployment, runtime, component and model."""
    picked = selector(service)
    port = "metrics" if service.metrics_port else "http"
    relabel: list[dict[str, Any]] = [
        {"source_labels": [_label(key) for key in picked], "regex": ";".join(picked.values()), "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port, "action": "keep"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
    ]
    relabel += [{"target_label": key, "replacement": value} for key, value in m.target_labels(service).items()]
    return {"job_name": service.name, "metrics_path": service.metrics_path,
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
            "relabel_configs": relabel}


def prometheus_kubernetes_config(m: Monitored, namespace: str, alertmanager: str, kube_state_metrics: str
                                 ) -> dict[str, Any]:
    """prometheus.yml on Kubernetes: the Compose file's globals and rules, Alertmanager by its Service, the
    deployment's pods by discovery, and kube-state-metrics for the pod, restart and Job alerts."""
    interval = f"{m.scrape_interval_seconds}s"
    state = {"job_name": "kube-state-metrics", "honor_labels": True,
             "static_configs": [{"targets": [f"{kube_state_metrics}:{KUBE_STATE_METRICS_PORT}"]}]}
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"slm_deployment": m.name}},
        "rule_files": [f"{RULES_DIR}/{kubernetes_rule_file(m)}"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{alertmanager}:{ALERTMANAGER_PORT}"]}]}]},
        "scrape_configs": [pod_scrape_job(m, s, namespace) for s in m.scraped] + [state],
    }


def prometheus_files(m: Monitored, namespace: str, alertmanager: str, kube_state_metrics: str) -> dict[str, str]:
    """The Prometheus ConfigMap's data: prometheus.yml and the deployment's Kubernetes rule file."""
    return {"prometheus.yml": to_yaml(prometheus_kubernetes_config(m, namespace, alertmanager, kube_state_metrics)),
            kubernetes_rule_file(m): rule_file(m, "kubernetes")}


def alertmanager_files(deployment: Deployment, m: Monitored) -> dict[str, str]:
    """The Alertmanager ConfigMap's data: the Compose routing, credentials read from the mounted Secrets."""
    receiver = deployment.spec.monitoring.receiver
    return {"alertmanager.yml": to_yaml(alertmanager_config(m.name, receiver, lambda name: f"{SECRETS_ROOT}/{name}"))}
