"""The rule tests cover what they claim: every raw spelling of every runtime, every alert both ways, and they
fail when a rule is broken. The raw-name tables agree with the servers slm-deploy ships."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slm_deploy.render.monitoring import vocabulary
from slm_deploy.servers.gateway import metrics as gateway_metrics
from slm_deploy.servers.ortgenai import metrics as ortgenai_metrics
from tests.monitoring.bundles import MATRIX, files_of_matrix, matrix_id, write
from tests.support import judges


def _test_file(files: dict[str, str], platform: str = "") -> dict:
    suffix = f"-{platform}.test.yml" if platform else ".test.yml"
    (path,) = [p for p in files if p.startswith("monitoring/prometheus/tests/") and p.endswith(suffix)
               and (platform or "-kubernetes" not in p)]
    return yaml.safe_load(files[path])


@pytest.mark.parametrize("entry", MATRIX, ids=matrix_id)
def test_every_raw_spelling_is_fed_to_the_rules(entry: tuple[str, bool]) -> None:
    runtime, gated = entry
    document = _test_file(files_of_matrix(runtime, gated))
    fed = {s["series"].split("{")[0] for t in document["tests"] for s in t["input_series"]}
    expected = set()
    for table in [vocabulary.RUNTIME_METRICS[runtime]] + ([vocabulary.GATEWAY_METRICS] if gated else []):
        for raws in table.values():
            for raw in (s for r in raws for s in r.spellings()):
                names = {raw.name, raw.count_name} - {""} if raw.kind != "histogram" else \
                    {f"{raw.name}_{part}" for part in ("bucket", "sum", "count")}
                expected |= names
    assert expected <= fed, sorted(expected - fed)


def test_old_and_new_vllm_names_and_both_spellings_are_all_covered() -> None:
    document = _test_file(files_of_matrix("vllm", True))
    fed = {s["series"].split("{")[0] for t in document["tests"] for s in t["input_series"]}
    for name in ("vllm:kv_cache_usage_perc", "vllm_kv_cache_usage_perc", "vllm:gpu_cache_usage_perc",
                 "vllm_gpu_cache_usage_perc", "vllm:inter_token_latency_seconds_bucket",
                 "vllm_inter_token_latency_seconds_bucket", "vllm:time_per_output_token_seconds_bucket",
                 "vllm_time_per_output_token_seconds_bucket"):
        assert name in fed


@pytest.mark.parametrize("entry", MATRIX, ids=matrix_id)
def test_every_alert_is_shown_firing_and_silent(entry: tuple[str, bool]) -> None:
    files = files_of_matrix(*entry)
    for platform in ("", "kubernetes"):
        rules = yaml.safe_load(files[[p for p in files if p.endswith(
            f"{'-' + platform if platform else ''}.rules.yml") and (platform or "-kubernetes" not in p)][0]])
        alert_names = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
        cases = [c for t in _test_file(files, platform)["tests"] for c in t.get("alert_rule_test", [])]
        firing = {c["alertname"] for c in cases if c["exp_alerts"]}
        silent = {c["alertname"] for c in cases if not c["exp_alerts"]}
        assert alert_names == firing == silent, (platform, alert_names ^ firing, alert_names ^ silent)


def _mutated(tmp_path: Path, old: str, new: str) -> list:
    root = write(files_of_matrix("vllm", True), tmp_path, "monitoring/") / "monitoring" / "prometheus"
    rules = root / "rules" / "vllm-gw.rules.yml"
    text = rules.read_text()
    assert old in text
    rules.write_text(text.replace(old, new))
    return judges.promtool_test_rules([root / "tests" / "vllm-gw.test.yml"])


@pytest.mark.parametrize(("old", "new"), [("vllm_kv_cache_usage_perc{", "vllm_kv_cache_usage_ratio{"),
                                           ("vllm_gpu_cache_usage_perc{", "vllm_gpu_cache_usage_ratio{")],
                         ids=["current", "older release"])
def test_a_forgotten_spelling_fails_the_rule_tests(tmp_path: Path, old: str, new: str) -> None:
    findings = _mutated(tmp_path, old, new)
    assert findings and "kv_cache_usage" in findings[0].message


def test_a_loosened_alert_fails_the_rule_tests(tmp_path: Path) -> None:
    findings = _mutated(tmp_path, "> 0.9", "> 0.4")  # the KV-cache alert would page on a half-full cache
    assert findings and "SLMKVCacheSaturated" in findings[0].message


def _exported(registry) -> set[str]:
    """Every metric name a registry exposes: family names, counters with `_total`, and sample names."""
    names = set()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        names |= {family.name} | {sample.name for sample in family.samples}
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def test_the_gateway_table_names_what_the_gateway_exports() -> None:
    exported = _exported(gateway_metrics.GatewayMetrics().registry)
    for raws in vocabulary.GATEWAY_METRICS.values():
        assert {raw.name for raw in raws} <= exported
    assert vocabulary.GATEWAY_UPSTREAM_WAITING in exported
    assert vocabulary.GATEWAY_TTFT_BUCKETS == gateway_metrics.TTFT_BUCKETS
    assert vocabulary.GATEWAY_LATENCY_BUCKETS == gateway_metrics.LATENCY_BUCKETS


def test_the_onnx_table_names_what_the_onnx_server_exports() -> None:
    exported = _exported(ortgenai_metrics.ServerMetrics().registry)
    for raws in [*vocabulary.RUNTIME_METRICS["onnxruntime"].values(), (vocabulary.MODEL_LOADED["onnxruntime"],)]:
        assert {raw.name for raw in raws} <= exported
    assert vocabulary.ORTGENAI_TTFT_BUCKETS == ortgenai_metrics.FIRST_TOKEN_SECONDS_BUCKETS
    assert vocabulary.ORTGENAI_LATENCY_BUCKETS == ortgenai_metrics.REQUEST_SECONDS_BUCKETS
