"""Alertmanager routing: by severity and deployment, inhibition of symptoms by causes, one receiver whose
credentials are read from mounted secret files."""

from __future__ import annotations

from typing import Any

from slm_deploy.spec.sections import AlertReceiver

NULL_RECEIVER = "null"
CAUSES = ("SLMRuntimeNotReady", "SLMTargetDown", "SLMModelDownloadFailed", "SLMModelDownloadStalled")
SYMPTOMS = ("SLMHighErrorRate", "SLMAvailabilityBudgetBurn", "SLMTimeToFirstTokenBudgetBurn",
            "SLMLatencyBudgetBurn", "SLMQueueGrowing")
REPEAT = {"critical": "1h", "warning": "12h"}


def _receiver(receiver: AlertReceiver, secret_path) -> dict[str, Any]:
    """The receiver block; `secret_path(name)` is where the platform mounts a secret as a file."""
    if receiver.kind == "slack":
        slack: dict[str, Any] = {"api_url_file": secret_path(receiver.url_secret),
                                 "send_resolved": receiver.send_resolved}
        if receiver.channel:
            slack["channel"] = receiver.channel
        return {"name": "slack", "slack_configs": [slack]}
    hook: dict[str, Any] = {"url": receiver.url, "send_resolved": receiver.send_resolved}
    if receiver.token_secret:
        hook["http_config"] = {"authorization": {"type": "Bearer",
                                                 "credentials_file": secret_path(receiver.token_secret)}}
    return {"name": "webhook", "webhook_configs": [hook]}


def alertmanager_config(deployment: str, receiver: AlertReceiver | None, secret_path) -> dict[str, Any]:
    """alertmanager.yml for one deployment; without a receiver alerts stay in Alertmanager's UI and API."""
    target = _receiver(receiver, secret_path) if receiver else None
    name = target["name"] if target else NULL_RECEIVER
    routes = [{"receiver": name, "matchers": [f'deployment="{deployment}"', f'severity="{severity}"'],
               "repeat_interval": repeat} for severity, repeat in REPEAT.items()]
    receivers = [{"name": NULL_RECEIVER}] + ([target] if target else [])
    return {
        "route": {"receiver": NULL_RECEIVER, "group_by": ["alertname", "deployment", "severity"],
                  "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h", "routes": routes},
        "inhibit_rules": [
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": ["alertname", "deployment"]},
            {"source_matchers": [f'alertname=~"{"|".join(CAUSES)}"'],
             "target_matchers": [f'alertname=~"{"|".join(SYMPTOMS)}"'], "equal": ["deployment"]},
        ],
        "receivers": receivers,
    }
