"""Every field of the spec's monitoring section changes what is rendered (or what Pulumi creates); a field
set where nothing would read it is refused with its path instead of being ignored."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from slm_deploy.errors import SpecError
from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.sections import Monitoring
from tests.monitoring.bundles import matrix_spec

ROOT = Path(__file__).resolve().parents[2]


def base() -> dict:
    """llama.cpp behind the gateway on Compose and Kubernetes, autoscaled, with Grafana and a webhook receiver."""
    spec = matrix_spec("llamacpp", True)
    spec["serving"]["autoscaling"] = {"enabled": True, "max_replicas": 3}
    spec["secrets"]["alert-token"] = {}
    spec["monitoring"] = {"grafana": {"enabled": True},
                          "receiver": {"kind": "webhook", "url": "https://alerts.example.com/hook",
                                       "token_secret": "alert-token"}}
    return spec


def unmonitored() -> dict:
    """The base with autoscaling off and monitoring at its defaults."""
    return with_value(with_value(base(), "serving.autoscaling", {"enabled": False}), "monitoring", {})


def without_unread_secrets(spec: dict) -> dict:
    """Drop the declared secrets nothing reads any more (an unread secret is refused)."""
    monitoring = spec.get("monitoring", {})
    receiver = monitoring.get("receiver") or {}
    grafana = monitoring.get("grafana") or {}
    read = {receiver.get("token_secret"), receiver.get("url_secret"), grafana.get("admin_password_secret")}
    if monitoring.get("enabled", True) is False:
        read = set()
    if spec.get("serving", {}).get("auth", {}).get("enabled", True):
        read.add("api-keys")
    spec["secrets"] = {name: ref for name, ref in spec["secrets"].items() if name in read}
    return spec


def aks_base() -> dict:
    return yaml.safe_load((ROOT / "stacks" / "Pulumi.phi4-vllm-aks.yaml").read_text())["config"]["slm-deploy:deployment"]


def with_value(spec: dict, path: str, value) -> dict:
    changed = copy.deepcopy(spec)
    node = changed
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return changed


def without(spec: dict, path: str) -> dict:
    """The spec with the key at a dotted path removed (a bare key would turn a target on with its defaults)."""
    changed = copy.deepcopy(spec)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[key]
    del node[last]
    return changed


# field path -> (base spec builder, a value other than what the base renders with)
CHANGES = {
    "monitoring.enabled": (unmonitored, False),
    "monitoring.mode": (base, "existing"),
    "monitoring.scrape_interval_seconds": (base, 30),
    "monitoring.slo.ttft_p95_seconds": (base, 0.5),
    "monitoring.slo.latency_p95_seconds": (base, 10.0),
    "monitoring.slo.error_ratio": (base, 0.05),
    "monitoring.slo.availability": (base, 0.99),
    "monitoring.selector_labels": (lambda: with_value(base(), "monitoring.mode", "existing"),
                                   {"release": "kube-prometheus-stack"}),
    "monitoring.scraper_labels": (base, {"app.kubernetes.io/name": "prometheus", "prometheus": "k8s"}),
    "monitoring.prometheus_url": (base, "http://prometheus-k8s.monitoring.svc:9090"),
    "monitoring.receiver": (base, None),
    # the kind decides which other receiver fields are allowed, so the switch replaces the receiver
    "monitoring.receiver.kind": (base, ("monitoring.receiver", {"kind": "slack", "url_secret": "alert-token"})),
    "monitoring.receiver.url": (base, "https://pager.example.com/hook"),
    "monitoring.receiver.token_secret": (lambda: with_value(base(), "secrets.other-token", {}),
                                         "other-token"),
    "monitoring.receiver.url_secret": (lambda: with_value(with_value(base(), "monitoring.receiver",
                                                                     {"kind": "slack", "url_secret": "alert-token"}),
                                                          "secrets.other-token", {}), "other-token"),
    "monitoring.receiver.channel": (lambda: with_value(base(), "monitoring.receiver",
                                                       {"kind": "slack", "url_secret": "alert-token"}), "#llm-alerts"),
    "monitoring.receiver.send_resolved": (base, False),
    "monitoring.grafana": (base, {"enabled": False}),
    "monitoring.grafana.enabled": (base, False),
    "monitoring.grafana.admin_password_secret": (lambda: with_value(base(), "secrets.other-password",
                                                                    {}), "other-password"),
    "monitoring.grafana.azure_managed": (aks_base, True),
    "monitoring.logs": (base, False),
    "monitoring.ports": (base, {"prometheus": 19090}),
    "monitoring.ports.prometheus": (base, 19090),
    "monitoring.ports.alertmanager": (base, 19093),
    "monitoring.ports.grafana": (base, 13000),
    "monitoring.ports.logs": (base, 12202),
    "monitoring.slo": (base, {"availability": 0.999}),
}
PULUMI_ONLY = {"monitoring.grafana.azure_managed"}
"""Fields whose effect is a cloud resource; the bundle README says what `pulumi up` creates for them."""


def every_field(model: type, prefix: str) -> list[str]:
    found = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        found.append(path)
        annotation = info.annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")]
        for sub in nested:
            found += every_field(sub, path)
    return found


def test_the_walk_covers_every_monitoring_field() -> None:
    assert sorted(every_field(Monitoring, "monitoring")) == sorted(CHANGES)


@pytest.mark.parametrize("path", sorted(CHANGES))
def test_the_field_changes_the_output(path: str) -> None:
    make, value = CHANGES[path]
    target, value = value if isinstance(value, tuple) else (path, value)
    spec = make()
    before = render_bundle(parse_deployment(without_unread_secrets(copy.deepcopy(spec)))).files
    after = render_bundle(parse_deployment(without_unread_secrets(with_value(spec, target, value)))).files
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p) and p != "manifest.json")
    assert changed, f"{path} accepted and ignored"
    if path in PULUMI_ONLY:
        assert changed == ["README.md"]


IGNORED = {
    "prometheus_url without autoscaling": (lambda: with_value(with_value(base(), "serving.autoscaling", {"enabled": False}),
                                                              "monitoring.prometheus_url", "http://p:9090"),
                                           "monitoring.prometheus_url"),
    "ports without Compose": (lambda: with_value(without(base(), "targets.compose"),
                                                 "monitoring.ports", {"prometheus": 9999}), "monitoring.ports"),
    "a Grafana port with Grafana off": (lambda: with_value(with_value(base(), "monitoring.grafana", {"enabled": False}),
                                                           "monitoring.ports", {"grafana": 3001}), "monitoring.ports.grafana"),
    "selector labels without Kubernetes": (lambda: with_value(with_value(without(base(), "targets.kubernetes"),
                                                                         "serving.autoscaling", {"enabled": False}),
                                                              "monitoring.selector_labels", {"a": "b"}),
                                           "monitoring.selector_labels"),
    "selector labels for the bundled Prometheus": (lambda: with_value(base(), "monitoring.selector_labels", {"a": "b"}),
                                                   "monitoring.selector_labels"),
    "an SLO with monitoring off": (lambda: with_value(with_value(base(), "serving.autoscaling", {"enabled": False}),
                                                      "monitoring", {"enabled": False, "slo": {"availability": 0.9}}),
                                   "monitoring.slo"),
    "a TTFT objective nothing measures": (lambda: with_value(with_value(with_value(
        base(), "serving.auth.enabled", False), "serving.autoscaling", {"enabled": False}),
        "monitoring", {"slo": {"ttft_p95_seconds": 1.0}}),
                                          "monitoring.slo.ttft_p95_seconds"),
    "scraper labels under Azure's agent": (lambda: with_value(aks_base(), "monitoring.scraper_labels", {"a": "b"}),
                                           "monitoring.scraper_labels"),
    "a token for Azure's webhook": (lambda: with_value(with_value(aks_base(), "secrets.t", {"backend": "kubernetes"}),
                                                       "monitoring.receiver", {"url": "https://h.example.com/x",
                                                                               "token_secret": "t"}),
                                    "monitoring.receiver"),
}


@pytest.mark.parametrize("case", sorted(IGNORED))
def test_a_field_nothing_would_read_is_refused(case: str) -> None:
    make, path = IGNORED[case]
    with pytest.raises(SpecError) as refused:
        render_bundle(parse_deployment(without_unread_secrets(make())))
    assert path in str(refused.value)
