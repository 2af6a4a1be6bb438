"""The monitoring section's cross-field rules and its effective mode; errors name fields, never their values."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.idle_fields import idle_problems, written


def monitoring_mode(spec: DeploymentSpec) -> str:
    """How Kubernetes is monitored: the spec's mode, else managed Prometheus on AKS and bundled elsewhere."""
    if spec.monitoring.mode:
        return spec.monitoring.mode
    return "managed" if spec.targets.aks is not None else "bundled"


def _private_channel(url: str) -> bool:
    """Whether a bearer token sent to `url` stays off the network in clear: https, or http to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https" or parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def _receiver_problems(spec: DeploymentSpec) -> list[Problem]:
    """A receiver carries exactly the fields of its kind, and says where to send."""
    receiver = spec.monitoring.receiver
    if receiver is None:
        return []
    if receiver.kind == "webhook":
        problems = []
        if receiver.url is None:
            problems.append(Problem("monitoring.receiver.url", "a webhook receiver needs the endpoint URL",
                                    allowed="an http(s) URL without credentials, query or fragment",
                                    hint="put a bearer token in a secret and name it in token_secret"))
        if receiver.url and receiver.token_secret and not _private_channel(receiver.url):
            problems.append(Problem("monitoring.receiver.url", "would send token_secret's bearer token in cleartext "
                                    "over http", allowed="an https URL (or http to a loopback host) with token_secret",
                                    hint="use the endpoint's https URL"))
        if receiver.url_secret or receiver.channel:
            problems.append(Problem("monitoring.receiver", "url_secret and channel belong to the slack kind",
                                    allowed="url and token_secret for kind webhook",
                                    hint="set kind: slack to post to Slack"))
        return problems
    problems = []
    if receiver.url_secret is None:
        problems.append(Problem("monitoring.receiver.url_secret", "a Slack receiver reads its webhook URL from a secret",
                                allowed="a secret name declared under `secrets`",
                                hint="the incoming-webhook URL is itself a credential, so it never sits in the spec"))
    if receiver.url or receiver.token_secret:
        problems.append(Problem("monitoring.receiver", "url and token_secret belong to the webhook kind",
                                allowed="url_secret and channel for kind slack",
                                hint="set kind: webhook to call an HTTP endpoint"))
    return problems


def _mode_problems(spec: DeploymentSpec) -> list[Problem]:
    """Managed Prometheus, Managed Grafana and Azure's action groups exist only on AKS, with their limits."""
    monitoring, problems = spec.monitoring, []
    if monitoring.mode == "managed" and spec.targets.aks is None:
        problems.append(Problem("monitoring.mode", "managed Prometheus is Azure Monitor's, on AKS only",
                                allowed="bundled or existing", hint="add targets.aks or choose bundled"))
    if monitoring.grafana.azure_managed and monitoring_mode(spec) != "managed":
        problems.append(Problem("monitoring.grafana.azure_managed", "Azure Managed Grafana reads managed Prometheus",
                                allowed="true only with monitoring.mode managed (AKS)",
                                hint="drop it to run Grafana in the bundled monitoring stack"))
    receiver = monitoring.receiver
    if receiver is not None and monitoring_mode(spec) == "managed" and spec.targets.aks is not None \
            and (receiver.kind != "webhook" or receiver.token_secret):
        problems.append(Problem("monitoring.receiver", "Azure Monitor action groups call a webhook without a token",
                                allowed="kind webhook with url and no token_secret (managed mode)",
                                hint="or choose monitoring.mode bundled to route through Alertmanager"))
    return problems


def _autoscaling_problems(spec: DeploymentSpec) -> list[Problem]:
    """KEDA scales on the queue Prometheus holds, and the gateway measures it and wakes a runtime from zero."""
    kubernetes = spec.targets.kubernetes is not None or spec.targets.aks is not None
    if not (kubernetes and spec.serving.autoscaling.enabled):
        return []
    problems = []
    if not spec.monitoring.enabled:
        problems.append(Problem("serving.autoscaling.enabled", "scaling reads the queue from Prometheus",
                                allowed="monitoring.enabled: true", hint="or turn autoscaling off"))
    if not spec.serving.auth.enabled:
        problems.append(Problem("serving.autoscaling.enabled",
                                "the gateway measures the queue for every runtime and wakes a runtime from zero",
                                allowed="serving.auth.enabled: true", hint="or turn autoscaling off"))
    return problems


def _idle_fields(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """(path, why nothing reads it, what would) for monitoring fields the spec sets where nothing reads them."""
    monitoring, targets = spec.monitoring, spec.targets
    if not monitoring.enabled:
        return [(f"monitoring.{field}", "while monitoring.enabled is false", "monitoring.enabled: true")
                for field in sorted(monitoring.model_fields_set - {"enabled"})]
    kubernetes = targets.kubernetes is not None or targets.aks is not None
    compose = targets.compose is not None
    found = []
    if written(monitoring, "prometheus_url") and not (kubernetes and spec.serving.autoscaling.enabled):
        found.append(("monitoring.prometheus_url", "without Kubernetes autoscaling (KEDA is what queries it)",
                      "serving.autoscaling.enabled with a Kubernetes target"))
    for field in ("mode", "selector_labels", "scraper_labels"):
        if written(monitoring, field) and not kubernetes:
            found.append((f"monitoring.{field}", "without a Kubernetes target", "a kubernetes or aks target"))
    if written(monitoring, "selector_labels") and kubernetes and monitoring_mode(spec) == "bundled":
        found.append(("monitoring.selector_labels", "in bundled mode (its own Prometheus reads no PodMonitors or "
                      "PrometheusRules)", "existing or managed mode"))
    if written(monitoring, "scraper_labels") and monitoring_mode(spec) == "managed":
        found.append(("monitoring.scraper_labels", "in managed mode (Azure's agent scrapes)", "bundled or existing mode"))
    for field in ("logs", "ports"):
        if written(monitoring, field) and not compose:
            found.append((f"monitoring.{field}", "without a Compose target", "a compose target"))
    if written(monitoring, "ports", "grafana") and not monitoring.grafana.enabled:
        found.append(("monitoring.ports.grafana", "while Grafana is off", "monitoring.grafana.enabled: true"))
    if written(monitoring, "ports", "logs") and not monitoring.logs:
        found.append(("monitoring.ports.logs", "while log collection is off", "monitoring.logs: true"))
    if kubernetes and not compose:
        found += _cluster_only_idle_fields(spec)
    return found


def _cluster_only_idle_fields(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Without Compose, Alertmanager and Grafana settings reach only the bundled monitoring stack slm-deploy runs."""
    monitoring, mode = spec.monitoring, monitoring_mode(spec)
    if mode == "existing":
        return [(f"monitoring.{field}", "in existing mode: the cluster's own Alertmanager and Grafana keep their "
                 "configuration", "bundled mode, or a Compose target")
                for field in ("receiver", "grafana") if written(monitoring, field)]
    if mode == "managed":
        return [(f"monitoring.grafana.{field}", "in managed mode (Azure Managed Grafana signs in with Entra ID)",
                 "monitoring.grafana.azure_managed, or a Compose target")
                for field in ("enabled", "admin_password_secret") if written(monitoring, "grafana", field)]
    return []


def _namespace_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """The monitoring namespace is where the scraping Prometheus runs: nothing reads it without one of ours."""
    target = spec.targets.kubernetes
    if target is None or not written(target, "monitoring_namespace"):
        return []
    if not spec.monitoring.enabled:
        return [("targets.kubernetes.monitoring_namespace", "while monitoring.enabled is false",
                 "monitoring.enabled: true")]
    if monitoring_mode(spec) == "managed":
        return [("targets.kubernetes.monitoring_namespace", "in managed mode (Azure's agent in kube-system scrapes, "
                 "and Azure holds the rules and dashboards)", "bundled or existing mode")]
    return []


def monitoring_problems(spec: DeploymentSpec) -> list[Problem]:
    """Every cross-field problem of the monitoring section, in a stable order."""
    idle = idle_problems(spec, _idle_fields(spec) + _namespace_idle(spec))
    return _receiver_problems(spec) + _mode_problems(spec) + _autoscaling_problems(spec) + idle
