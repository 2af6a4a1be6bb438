"""The monitoring section's cross-field rules, its effective mode and the secrets it names."""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec


def monitoring_mode(spec: DeploymentSpec) -> str:
    """How Kubernetes is monitored: the spec's mode, else managed Prometheus on AKS and bundled elsewhere."""
    if spec.monitoring.mode:
        return spec.monitoring.mode
    return "managed" if spec.targets.aks is not None else "bundled"


def monitoring_secrets(spec: DeploymentSpec) -> dict[str, str]:
    """Field path -> secret name for the Grafana admin password and the alert receiver's credentials."""
    monitoring = spec.monitoring
    if not monitoring.enabled:
        return {}
    refs = {}
    if monitoring.grafana.enabled and not monitoring.grafana.azure_managed:
        refs["monitoring.grafana.admin_password_secret"] = monitoring.grafana.admin_password_secret
    receiver = monitoring.receiver
    if receiver is not None:
        for field in ("token_secret", "url_secret"):
            if getattr(receiver, field):
                refs[f"monitoring.receiver.{field}"] = getattr(receiver, field)
    return refs


def monitoring_problems(spec: DeploymentSpec) -> list[Problem]:
    """A receiver must say where to send; managed Prometheus and Managed Grafana exist only on AKS."""
    monitoring = spec.monitoring
    problems = []
    receiver = monitoring.receiver
    if receiver is not None and receiver.kind == "webhook":
        if receiver.url is None:
            problems.append(Problem("monitoring.receiver.url", "a webhook receiver needs the endpoint URL",
                                    allowed="an http(s) URL without credentials",
                                    hint="put a bearer token in a secret and name it in token_secret"))
        if receiver.url_secret or receiver.channel:
            problems.append(Problem("monitoring.receiver", "url_secret and channel belong to the slack kind",
                                    allowed="url and token_secret for webhook"))
    if receiver is not None and receiver.kind == "slack":
        if receiver.url_secret is None:
            problems.append(Problem("monitoring.receiver.url_secret",
                                    "a Slack receiver reads its webhook URL from a secret",
                                    allowed="a secret name declared under `secrets`"))
        if receiver.url or receiver.token_secret:
            problems.append(Problem("monitoring.receiver", "url and token_secret belong to the webhook kind",
                                    allowed="url_secret and channel for slack"))
    if monitoring.mode == "managed" and spec.targets.aks is None:
        problems.append(Problem("monitoring.mode", "managed Prometheus is Azure Monitor's, on AKS only",
                                allowed="bundled or existing", hint="add targets.aks or choose bundled"))
    if monitoring.grafana.azure_managed and monitoring_mode(spec) != "managed":
        problems.append(Problem("monitoring.grafana.azure_managed", "Azure Managed Grafana reads managed Prometheus",
                                allowed="true only with monitoring.mode managed (AKS)"))
    if receiver is not None and monitoring_mode(spec) == "managed" and spec.targets.aks is not None \
            and (receiver.kind != "webhook" or receiver.token_secret):
        problems.append(Problem("monitoring.receiver", "Azure Monitor action groups call a webhook without a token",
                                allowed="kind webhook with url and no token_secret (managed mode)",
                                hint="or choose monitoring.mode bundled to route through Alertmanager"))
    return problems + [Problem(path, f"has no effect {why}", allowed=allowed) for path, why, allowed in _idle_fields(spec)]


def _set(model, *path: str) -> bool:
    """Whether the spec wrote this field itself (defaults do not count)."""
    for name in path[:-1]:
        if name not in model.model_fields_set:
            return False
        model = getattr(model, name)
    return path[-1] in model.model_fields_set


def _idle_fields(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Monitoring fields the spec sets where nothing reads them: each would be silently ignored."""
    monitoring, targets = spec.monitoring, spec.targets
    if not monitoring.enabled:
        return [(f"monitoring.{field}", "while monitoring.enabled is false", "monitoring.enabled: true")
                for field in sorted(monitoring.model_fields_set - {"enabled"})]
    kubernetes = targets.kubernetes is not None or targets.aks is not None
    found = []
    if _set(monitoring, "prometheus_url") and not (kubernetes and spec.serving.autoscaling.enabled):
        found.append(("monitoring.prometheus_url", "without Kubernetes autoscaling (KEDA is what queries it)",
                      "set serving.autoscaling.enabled with a Kubernetes target, or drop the field"))
    for field in ("mode", "selector_labels", "scraper_labels"):
        if _set(monitoring, field) and not kubernetes:
            found.append((f"monitoring.{field}", "without a Kubernetes target", "a kubernetes or aks target"))
    if _set(monitoring, "scraper_labels") and monitoring_mode(spec) == "managed":
        found.append(("monitoring.scraper_labels", "in managed mode (Azure's agent scrapes)", "bundled or existing mode"))
    for field in ("logs", "ports"):
        if _set(monitoring, field) and targets.compose is None:
            found.append((f"monitoring.{field}", "without a Compose target", "a compose target"))
    if _set(monitoring, "ports", "grafana") and not monitoring.grafana.enabled:
        found.append(("monitoring.ports.grafana", "while Grafana is off", "monitoring.grafana.enabled: true"))
    if _set(monitoring, "ports", "logs") and not monitoring.logs:
        found.append(("monitoring.ports.logs", "while log collection is off", "monitoring.logs: true"))
    if _set(monitoring, "grafana", "admin_password_secret") and monitoring.grafana.azure_managed:
        found.append(("monitoring.grafana.admin_password_secret", "with Azure Managed Grafana (Entra ID signs in)",
                      "drop it, or run Grafana in the cluster"))
    return found
