"""The bundled mode: kube-prometheus-stack values generated from the spec (Pulumi installs the chart; `render`
writes the values and the install command). Every pod the values turn on stays within Pod Security `restricted`,
which the monitoring namespace enforces: non-root with a seccomp profile, no node exporter (host namespaces and
paths), no Grafana chown init container (root)."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.secret_sources import projected_secrets
from slm_deploy.render.monitoring.alertmanager import alertmanager_config
from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.kubernetes import DASHBOARD_LABEL
from slm_deploy.spec.consistency import cluster_target
from slm_deploy.runtimes.plan import SECRETS_ROOT
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import secrets_of

CHART = "kube-prometheus-stack"
CHART_VERSION = "79.7.1"
CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE = "kube-prometheus-stack"
ALERTMANAGER_SECRETS = "/etc/alertmanager/secrets"
STORAGE = "50Gi"


def _security(deployment: Deployment) -> dict[str, Any]:
    security = deployment.spec.security
    return {"runAsNonRoot": True, "runAsUser": security.uid, "runAsGroup": security.gid, "fsGroup": security.gid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _storage(deployment: Deployment, size: str) -> dict[str, Any]:
    target = cluster_target(deployment.spec)
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if target.storage_class:
        claim["storageClassName"] = target.storage_class
    return {"volumeClaimTemplate": {"spec": claim}}


def _grafana(deployment: Deployment) -> dict[str, Any]:
    """Grafana with the dashboards sidecar; the admin password is read from the mounted secret file, as on Compose."""
    grafana = deployment.spec.monitoring.grafana
    if not grafana.enabled:
        return {"enabled": False}
    password = grafana.admin_password_secret
    return {
        "enabled": True,
        "env": {"GF_SECURITY_ADMIN_USER": "admin", "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{SECRETS_ROOT}/{password}"},
        "extraSecretMounts": [{"name": "secrets", "mountPath": SECRETS_ROOT, "readOnly": True,
                               "projected": projected_secrets([password])}],
        "grafana.ini": {"auth.anonymous": {"enabled": False}, "users": {"allow_sign_up": False},
                        "analytics": {"reporting_enabled": False, "check_for_updates": False}},
        "sidecar": {"dashboards": {"enabled": True, "label": next(iter(DASHBOARD_LABEL)),
                                   "labelValue": DASHBOARD_LABEL[next(iter(DASHBOARD_LABEL))],
                                   "searchNamespace": "ALL"}},
        "securityContext": _security(deployment),
        "initChownData": {"enabled": False},  # a root init container; fsGroup already owns the volume
        "persistence": {"enabled": True, "size": "5Gi"},
    }


def values(deployment: Deployment, m: Monitored) -> dict[str, Any]:
    """Chart values: select every namespace's monitors and rules, Alertmanager routing from the spec,
    non-root pods on persistent volumes, Grafana (when asked) with the sidecar and no anonymous access."""
    spec = deployment.spec
    monitoring = spec.monitoring
    receiver = monitoring.receiver
    secrets = secrets_of(spec, "alertmanager")
    interval = f"{monitoring.scrape_interval_seconds}s"
    prometheus_spec: dict[str, Any] = {
        "scrapeInterval": interval, "evaluationInterval": interval, "retention": "15d",
        "podMonitorSelectorNilUsesHelmValues": False, "serviceMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False, "podMonitorNamespaceSelector": {}, "ruleNamespaceSelector": {},
        "securityContext": _security(deployment), "storageSpec": _storage(deployment, STORAGE),
        "podMetadata": {"labels": dict(monitoring.scraper_labels)},
    }
    if monitoring.selector_labels:
        prometheus_spec["podMonitorSelector"] = {"matchLabels": dict(monitoring.selector_labels)}
        prometheus_spec["ruleSelector"] = {"matchLabels": dict(monitoring.selector_labels)}
    return {
        "fullnameOverride": "kube-prometheus-stack",
        "nodeExporter": {"enabled": False},
        "prometheus": {"prometheusSpec": prometheus_spec},
        "alertmanager": {
            "config": alertmanager_config(m.name, receiver, lambda name: f"{ALERTMANAGER_SECRETS}/{name}/{name}"),
            "alertmanagerSpec": {"secrets": secrets, "securityContext": _security(deployment),
                                 "storage": _storage(deployment, "5Gi")},
        },
        "grafana": _grafana(deployment),
    }
