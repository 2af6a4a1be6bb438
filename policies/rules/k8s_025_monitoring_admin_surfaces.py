"""K25: the bundled monitoring stack keeps its admin surfaces shut: no anonymous Grafana, no Prometheus admin API."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, command_line, containers, flag_present, mapping
from slm_deploy.policies.config_credentials import parse_ini
from slm_deploy.policies.model import Rule, Severity

PROMETHEUS_ADMIN_FLAGS = ("--web.enable-admin-api", "--web.enable-lifecycle", "--web.enable-remote-write-receiver")
"""Flags that let any caller who reaches Prometheus delete series, shut it down or write samples into it."""


def _grafana(manifest):
    """Anonymous access turned on in a grafana.ini the ConfigMap carries."""
    text = mapping(manifest.get("data")).get("grafana.ini")
    if not isinstance(text, str):
        return
    parser = parse_ini(text)
    if parser is None:
        return  # slm-k8s-016 reports a grafana.ini it cannot read
    if parser.has_section("auth.anonymous") and parser.get("auth.anonymous", "enabled", fallback="false").strip().lower() == "true":
        yield "data[grafana.ini]: [auth.anonymous] enabled lets anyone who reaches Grafana in without a login"


def check(manifest, ctx):
    """Yield a violation per open admin surface."""
    if ctx.kind == "ConfigMap":
        yield from _grafana(manifest)
        return
    for path, container in containers(manifest, ctx.kind):
        words = command_line(container)
        for flag in PROMETHEUS_ADMIN_FLAGS:
            if flag_present(words, flag):
                yield f"{path} starts with {flag}, an unauthenticated admin endpoint"


RULE = Rule(
    id="slm-k8s-025",
    name="Monitoring admin surfaces stay shut: no anonymous Grafana, no Prometheus admin, lifecycle or write API.",
    severity=Severity.HIGH,
    controls=("K25",),
    kinds=WORKLOAD_KINDS | {"ConfigMap"},
    rationale="Prometheus' admin and lifecycle endpoints have no authentication (anyone who reaches the pod can "
              "delete series or stop it), and anonymous Grafana shows every dashboard of the deployment.",
    remediation="Drop --web.enable-admin-api, --web.enable-lifecycle and --web.enable-remote-write-receiver, and "
                "keep [auth.anonymous] enabled = false.",
    benchmarks=(),
    check=check,
    tags=("kubernetes", "monitoring"),
)
