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
    return problems
