"""Prometheus configuration for the Compose stack: scrape the runtime and the gateway, evaluate the rules."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.monitoring.context import Monitored

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
RULES_DIR = "rules"
TESTS_DIR = "tests"


def rule_file_name(m: Monitored) -> str:
    """The deployment's rule file, relative to the Prometheus configuration folder."""
    return f"{RULES_DIR}/{m.name}.rules.yml"


def scrape_configs(m: Monitored) -> list[dict[str, Any]]:
    """One job per scraped service, each series labelled with deployment, runtime, component and model."""
    jobs = []
    for service in m.scraped:
        port = service.metrics_port or service.port
        jobs.append({
            "job_name": service.name,
            "metrics_path": service.metrics_path,
            "static_configs": [{"targets": [f"{service.name}:{port}"], "labels": m.target_labels(service)}],
        })
    return jobs


def prometheus_config(m: Monitored, alertmanager: str) -> dict[str, Any]:
    """prometheus.yml: global intervals, the rule file, Alertmanager and the scrape jobs."""
    interval = f"{m.scrape_interval_seconds}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"slm_deployment": m.name}},
        "rule_files": [rule_file_name(m)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{alertmanager}:{ALERTMANAGER_PORT}"]}]}]},
        "scrape_configs": scrape_configs(m),
    }
