"""promtool unit tests for the rule groups: every raw spelling yields the normalised series; every alert
is shown firing and staying silent."""

from __future__ import annotations

import re
from typing import Any

from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.rules import Alert, alerts
from slm_deploy.render.monitoring.vocabulary import MODEL_LOADED, SIGNALS, RawMetric, recorded, sources

EVAL = "10m"
EVALUATION_INTERVAL = "5m"
"""Rules are evaluated every 5 minutes of test time: alert `for` clauses are multiples of it, and the
multi-hour burn-rate cases stay quick."""
SAMPLES = "x15"


def _labels(m: Monitored, **extra: str) -> dict[str, str]:
    return {"deployment": m.name, "runtime": m.runtime, **extra}


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _matcher_labels(raw: RawMetric) -> dict[str, str]:
    found = {}
    for part in filter(None, raw.matchers.split('",')):
        key, _, value = part.partition("=")
        value = value.lstrip("~").strip('"').split("|")[0]
        found[key] = "500" if value == "5.." else value.replace(".*", "chat/completions")
    return found


def _expect(name: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"expr": f"{name}{{{body}}}", "eval_time": EVAL, "exp_samples": [{"labels": f"{name}{{{body}}}",
                                                                            "value": value}]}


def _raw_series(case: str, m: Monitored, raw: RawMetric, scale: int = 1) -> list[dict[str, str]]:
    """Series of one raw spelling: a gauge at 3 (x scale), counters growing 1/s (x scale), sums half that."""
    base = {"deployment": m.name, "runtime": case, **_matcher_labels(raw)}
    if raw.kind == "gauge":
        return [_series(raw.name, base, f"{3 * scale}{SAMPLES}")]
    if raw.kind == "counter":
        return [_series(raw.name, base, f"0+{60 * scale}{SAMPLES}")]
    if raw.kind == "counter_pair":
        return [_series(raw.name, base, f"0+{30 * scale}{SAMPLES}"),
                _series(raw.count_name, base, f"0+{60 * scale}{SAMPLES}")]
    return [_series(f"{raw.name}_bucket", {**base, "le": "0.5"}, f"0+{60 * scale}{SAMPLES}"),
            _series(f"{raw.name}_bucket", {**base, "le": "+Inf"}, f"0+{60 * scale}{SAMPLES}"),
            _series(f"{raw.name}_sum", base, f"0+{30 * scale}{SAMPLES}"),
            _series(f"{raw.name}_count", base, f"0+{60 * scale}{SAMPLES}")]


def _normalised(case: str, m: Monitored, signal, raw: RawMetric) -> list[dict[str, Any]]:
    """What the rules must record from one spelling's series at scale 1."""
    out = {"deployment": m.name, "runtime": case}
    if raw.kind == "gauge":
        return [_expect(recorded(signal), out, 3)]
    if raw.kind == "counter":
        return [_expect(recorded(signal), out, 1)]
    checks = [_expect(recorded(signal, "sum"), out, 0.5), _expect(recorded(signal, "count"), out, 1)]
    if raw.kind == "histogram":
        checks.append(_expect(recorded(signal, "bucket"), {**out, "le": "0.5"}, 1))
    return checks


def _raw_names_case(m: Monitored) -> dict[str, Any]:
    """One group: every raw spelling of every signal (current and old names, colons and underscores), and
    where two sources exist at once the preferred one wins.

    Each case carries its own `runtime` label value; the rules aggregate by deployment and runtime, so the
    cases cannot see each other.
    """
    inputs, checks = [], []
    for signal in SIGNALS:
        found = sources(m.runtime, signal, m.gateway is not None)
        for raw in found:
            case = f"{signal.name}/{raw.name}"
            inputs += _raw_series(case, m, raw)
            checks += _normalised(case, m, signal, raw)
        if len(found) > 1:
            case = f"{signal.name}/preferred"
            inputs += _raw_series(case, m, found[0]) + _raw_series(case, m, found[1], scale=2)
            checks += _normalised(case, m, signal, found[0])
    return {"name": "every raw spelling yields the normalised series", "interval": "1m", "input_series": inputs,
            "promql_expr_test": checks}


def _model_loaded_cases(m: Monitored) -> list[dict[str, Any]]:
    runtime = _labels(m, component="runtime", instance="runtime:1", job="runtime")
    cases = [{"name": "model_loaded from up", "interval": "1m",
              "input_series": [_series("up", runtime, f"1{SAMPLES}")],
              "promql_expr_test": [_expect("slm:model_loaded", _labels(m), 1)]}]
    own = MODEL_LOADED.get(m.runtime)
    for raw in own.spellings() if own else ():
        cases.append({"name": f"model_loaded from {raw.name}", "interval": "1m",
                      "input_series": [_series("up", runtime, f"1{SAMPLES}"), _series(raw.name, _labels(m), f"0{SAMPLES}")],
                      "promql_expr_test": [_expect("slm:model_loaded", _labels(m), 0)]})
    return cases


def _expand(text: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.([a-z_]+) \}\}", lambda match: labels.get(match.group(1), ""), text)


def _alert_cases(group: list[Alert]) -> list[dict[str, Any]]:
    """The firing case (every rule of the alert name that fires) and the silent case of one alert name."""
    first = group[0]
    cases = []
    for label, case in (("fires", first.fires), ("stays silent", first.quiet)):
        expected = [{"exp_labels": {**labels, "severity": alert.severity, **alert.labels},
                     "exp_annotations": {"summary": _expand(alert.summary, labels), "runbook": alert.runbook,
                                         "runbook_url": f"RUNBOOKS.md#{alert.name.lower()}"}}
                    for alert in group for labels in case.labels]
        cases.append({"name": f"{first.name} {label}", "interval": "1m",
                      "input_series": [{"series": s, "values": v} for s, v in case.series],
                      "alert_rule_test": [{"eval_time": case.at, "alertname": first.name, "exp_alerts": expected}]})
    return cases


def rule_tests(m: Monitored, platform: str, rule_file: str) -> dict[str, Any]:
    """The promtool test file for one deployment's rule file."""
    tests = [_raw_names_case(m)] if any(sources(m.runtime, s, m.gateway is not None) for s in SIGNALS) else []
    tests += _model_loaded_cases(m)
    by_name: dict[str, list[Alert]] = {}
    for alert in alerts(m, platform):
        by_name.setdefault(alert.name, []).append(alert)
    for group in by_name.values():
        tests += _alert_cases(group)
    return {"rule_files": [rule_file], "evaluation_interval": EVALUATION_INTERVAL, "tests": tests}
