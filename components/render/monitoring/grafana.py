"""Grafana provisioning for the Compose stack: the Prometheus and Loki data sources and the dashboard folder."""

from __future__ import annotations

from typing import Any

from slm_deploy.runtimes.monitoring import LOKI_PORT, PROMETHEUS_PORT

DASHBOARDS_PATH = "/etc/grafana/dashboards"


def datasources(prometheus_host: str, loki_host: str | None) -> dict[str, Any]:
    """provisioning/datasources: Prometheus (the default, uid `prometheus`) and Loki when logs are collected."""
    sources = [{"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy",
                "url": f"http://{prometheus_host}:{PROMETHEUS_PORT}", "isDefault": True, "editable": False}]
    if loki_host:
        sources.append({"name": "Loki", "type": "loki", "uid": "loki", "access": "proxy",
                        "url": f"http://{loki_host}:{LOKI_PORT}", "editable": False})
    return {"apiVersion": 1, "datasources": sources}


def dashboard_provider() -> dict[str, Any]:
    """provisioning/dashboards: load the rendered dashboards read-only from their mounted folder."""
    return {"apiVersion": 1, "providers": [{
        "name": "slm-deploy", "folder": "slm-deploy", "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60, "options": {"path": DASHBOARDS_PATH}}]}
