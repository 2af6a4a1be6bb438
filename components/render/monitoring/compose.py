"""Where the Compose monitoring services sit: networks, loopback-only ports, config mounts, data volumes,
the profile that keeps them optional, and the log driver that feeds Loki without a Docker socket."""

from __future__ import annotations

from typing import Any

from slm_deploy.runtimes.monitoring import ALERTMANAGER_PORT, GELF_PORT, GRAFANA_PORT, PROMETHEUS_PORT
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment

PROFILE = "monitoring"
METRICS = "metrics"
"""Internal network of the scraped services and Prometheus (nothing else reaches a metrics port)."""
MONITORING = "monitoring"
"""Internal network of the monitoring services."""
MONITORING_EDGE = "monitoring-edge"
"""Where the published monitoring services listen, and Alertmanager's way out to its receiver."""
LOOPBACK = "127.0.0.1"
CONFIG_MOUNTS = {
    "prometheus": (("prometheus", "/etc/prometheus"),),
    "alertmanager": (("alertmanager", "/etc/alertmanager"),),
    "grafana": (("grafana/grafana.ini", "/etc/grafana/grafana.ini"), ("grafana/provisioning", "/etc/grafana/provisioning"),
                ("grafana/dashboards", "/etc/grafana/dashboards")),
    "loki": (("loki", "/etc/loki"),),
    "alloy": (("alloy", "/etc/alloy"),),
}
DATA = {"prometheus": "/var/lib/slm/prometheus", "alertmanager": "/var/lib/slm/alertmanager",
        "grafana": "/var/lib/grafana", "loki": "/loki"}
NETWORKS = {"prometheus": (METRICS, MONITORING, MONITORING_EDGE), "alertmanager": (MONITORING, MONITORING_EDGE),
            "grafana": (MONITORING, MONITORING_EDGE), "loki": (MONITORING,), "alloy": (MONITORING, MONITORING_EDGE)}


def data_volume(service: ServicePlan) -> str | None:
    """The named volume holding a monitoring service's data, if it keeps any."""
    return f"{service.runtime}-data" if service.runtime in DATA else None


def published(deployment: Deployment, service: ServicePlan) -> list[str]:
    """Loopback-only host ports from monitoring.ports."""
    ports = deployment.spec.monitoring.ports
    by_part = {"prometheus": (ports.prometheus, PROMETHEUS_PORT, ""), "alertmanager": (ports.alertmanager,
               ALERTMANAGER_PORT, ""), "grafana": (ports.grafana, GRAFANA_PORT, ""), "alloy": (ports.logs, GELF_PORT, "/udp")}
    if service.runtime not in by_part:
        return []
    host, container, protocol = by_part[service.runtime]
    return [f"{LOOPBACK}:{host}:{container}{protocol}"]


def service_body(deployment: Deployment, service: ServicePlan) -> dict[str, Any]:
    """The Compose keys a monitoring service adds to the hardened defaults."""
    volumes = [f"../monitoring/{source}:{target}:ro" for source, target in CONFIG_MOUNTS[service.runtime]]
    volume = data_volume(service)
    if volume:
        volumes.append(f"{volume}:{DATA[service.runtime]}")
    body: dict[str, Any] = {"volumes": volumes, "networks": list(NETWORKS[service.runtime]), "profiles": [PROFILE]}
    ports = published(deployment, service)
    if ports:
        body["ports"] = ports
    return body


def joins_metrics(plan: RuntimePlan, service: ServicePlan) -> bool:
    """Scraped services join the metrics network when Prometheus is part of the project."""
    return bool(plan.by_role("monitoring")) and bool(service.metrics_path) and service.role in ("runtime", "gateway")


def logging(deployment: Deployment, plan: RuntimePlan, service: ServicePlan) -> dict[str, Any] | None:
    """Serving services send their logs as GELF to the collector's loopback port; `docker logs` keeps working."""
    if service.role == "monitoring" or not any(s.runtime == "alloy" for s in plan.by_role("monitoring")):
        return None
    return {"driver": "gelf", "options": {"gelf-address": f"udp://{LOOPBACK}:{deployment.spec.monitoring.ports.logs}",
                                          "tag": service.name}}


def networks(plan: RuntimePlan) -> dict[str, Any]:
    """The top-level networks the monitoring services add."""
    if not plan.by_role("monitoring"):
        return {}
    return {METRICS: {"internal": True}, MONITORING: {"internal": True}, MONITORING_EDGE: {}}
