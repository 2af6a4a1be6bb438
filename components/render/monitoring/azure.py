"""Azure Monitor's Prometheus rule groups from the same rule source as every other platform."""

from __future__ import annotations

import re
from typing import Any

from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.rules import rule_groups

RULES_PER_GROUP = 20
"""Azure accepts at most 20 rules in one Prometheus rule group."""
SEVERITY = {"critical": 1, "warning": 2}
"""Azure alert severities (0 critical ... 4 verbose); pages are Sev1, tickets Sev2."""


def iso_duration(prometheus: str) -> str:
    """Prometheus `5m`/`2h`/`1d` as the ISO 8601 duration Azure expects (PT5M, PT2H, P1D)."""
    match = re.fullmatch(r"([0-9]+)([smhd])", prometheus)
    if match is None:
        raise ValueError(f"{prometheus!r} is not a Prometheus duration of seconds, minutes, hours or days")
    number, unit = match.groups()
    return f"P{number}D" if unit == "d" else f"PT{number}{unit.upper()}"


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    if "record" in rule:
        body = {"record": rule["record"], "expression": rule["expr"]}
        if rule.get("labels"):
            body["labels"] = dict(rule["labels"])
        return body
    labels = dict(rule["labels"])
    body = {"alert": rule["alert"], "expression": rule["expr"], "severity": SEVERITY[labels["severity"]],
            "labels": labels, "annotations": dict(rule["annotations"]),
            "resolve_configuration": {"auto_resolved": True, "time_to_resolve": "PT10M"}}
    if rule.get("for"):
        body["for_"] = iso_duration(rule["for"])
    return body


def prometheus_rule_groups(m: Monitored, scrape_interval_seconds: int) -> list[dict[str, Any]]:
    """Rule group arguments (name, interval, rules) in the order Prometheus would evaluate them; Azure
    evaluates at most once a minute."""
    interval_minutes = max(1, -(-scrape_interval_seconds // 60))
    groups = []
    for group in rule_groups(m, "kubernetes"):
        rules = [_rule(r) for r in group["rules"]]
        chunks = [rules[i:i + RULES_PER_GROUP] for i in range(0, len(rules), RULES_PER_GROUP)]
        for index, chunk in enumerate(chunks):
            name = group["name"] if len(chunks) == 1 else f"{group['name']}-{index + 1}"
            groups.append({"rule_group_name": name, "interval": f"PT{interval_minutes}M", "rules": chunk})
    return groups
