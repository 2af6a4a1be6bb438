"""Monitoring output built from one rule source: Prometheus, Alertmanager, Grafana, logs, Kubernetes and Azure."""
