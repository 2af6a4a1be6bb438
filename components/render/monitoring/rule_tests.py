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


def _raw_case(m: Monitored, signal, raw: RawMetric) -> dict[str, Any]:
    """Only this raw spelling exists: the normalised series must carry its value."""
    base = _labels(m, **_matcher_labels(raw))
    out = _labels(m)
    if raw.kind == "gauge":
        inputs, checks = [_series(raw.name, base, f"3{SAMPLES}")], [_expect(recorded(signal), out, 3)]
    elif raw.kind == "counter":
        inputs, checks = [_series(raw.name, base, f"0+60{SAMPLES}")], [_expect(recorded(signal), out, 1)]
    elif raw.kind == "counter_pair":
        inputs = [_series(raw.name, base, f"0+30{SAMPLES}"), _series(raw.count_name, base, f"0+60{SAMPLES}")]
        checks = [_expect(recorded(signal, "sum"), out, 0.5), _expect(recorded(signal, "count"), out, 1)]
    else:
        inputs = [_series(f"{raw.name}_bucket", {**base, "le": "0.5"}, f"0+60{SAMPLES}"),
                  _series(f"{raw.name}_bucket", {**base, "le": "+Inf"}, f"0+60{SAMPLES}"),
                  _series(f"{raw.name}_sum", base, f"0+30{SAMPLES}"),
                  _series(f"{raw.name}_count", base, f"0+60{SAMPLES}")]
        checks = [_expect(recorded(signal, "bucket"), {**out, "le": "0.5"}, 1),
                  _expect(recorded(signal, "sum"), out, 0.5), _expect(recorded(signal, "count"), out, 1)]
    return {"name": f"{signal.name} from {raw.name} ({raw.era})", "interval": "1m", "input_series": inputs,
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
    tests = [_raw_case(m, signal, raw) for signal in SIGNALS
             for raw in sources(m.runtime, signal, m.gateway is not None)]
    tests += _model_loaded_cases(m)
    by_name: dict[str, list[Alert]] = {}
    for alert in alerts(m, platform):
        by_name.setdefault(alert.name, []).append(alert)
    for group in by_name.values():
        tests += _alert_cases(group)
    return {"rule_files": [rule_file], "evaluation_interval": EVALUATION_INTERVAL, "tests": tests}
