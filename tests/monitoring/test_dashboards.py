"""Dashboards query only the normalised `slm:*` series the rules record, and survive the SDK's own model."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from slm_deploy.render.monitoring import vocabulary
from tests.monitoring.bundles import every_bundle, files_of_matrix

SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")
RAW_NAMES = sorted({spelling.name for table in [*vocabulary.RUNTIME_METRICS.values(), vocabulary.GATEWAY_METRICS]
                    for raws in table.values() for raw in raws for spelling in raw.spellings()}
                   | {raw.name for raw in vocabulary.MODEL_LOADED.values()})
BUNDLES = every_bundle()


def _dashboards(files: dict[str, str]) -> list[dict]:
    boards = [json.loads(text) for path, text in files.items() if path.startswith("monitoring/grafana/dashboards/")]
    for path, text in files.items():
        if path.startswith("kubernetes/configmap-") and path.endswith("-dashboards.yaml"):
            boards += [json.loads(body) for body in yaml.safe_load(text)["data"].values()]
    return boards


def _recorded(files: dict[str, str]) -> set[str]:
    return {rule["record"] for path, text in files.items() if path.endswith(".rules.yml")
            for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "record" in rule}


def raw_queries(board: dict, recorded: set[str]) -> list[str]:
    """Panel queries that read anything but a recorded slm:* series (empty when the dashboard is clean)."""
    bad = []
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            expr = target["expr"]
            names = set(SELECTOR.findall(expr))
            if any(not n.startswith("slm:") or n not in recorded for n in names) or \
                    any(re.search(rf"(?<![A-Za-z0-9_:]){re.escape(raw)}(?![A-Za-z0-9_:])", expr) for raw in RAW_NAMES):
                bad.append(f"{panel['title']}: {expr}")
    return bad


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=[n for n, _ in BUNDLES])
def test_no_panel_queries_a_raw_runtime_metric(name: str, files: dict[str, str]) -> None:
    boards = _dashboards(files)
    assert boards, "every monitored bundle carries its dashboards"
    recorded = _recorded(files)
    for board in boards:
        assert board["panels"], board["title"]
        assert raw_queries(board, recorded) == [], board["title"]


def test_the_check_catches_a_raw_metric_in_a_panel() -> None:
    name, files = BUNDLES[0]
    board = json.loads(json.dumps(_dashboards(files)[0]))
    board["panels"][0]["targets"][0]["expr"] = 'sum(vllm:num_requests_waiting{deployment=~"$deployment"})'
    assert raw_queries(board, _recorded(files))
    board["panels"][0]["targets"][0]["expr"] = "sum(rate(vllm_generation_tokens_total[5m]))"
    assert raw_queries(board, _recorded(files))


@pytest.mark.parametrize(("name", "files"), BUNDLES[:4], ids=[n for n, _ in BUNDLES[:4]])
def test_dashboards_round_trip_through_the_sdk_model(name: str, files: dict[str, str]) -> None:
    for board in _dashboards(files):
        model = Dashboard.from_json(board)
        assert json.loads(json.dumps(model, cls=JSONEncoder)) == board
        assert model.uid and model.uid.startswith("slm-") and model.templating.list_val


def test_an_overview_and_one_dashboard_per_runtime() -> None:
    titles = {}
    for _, files in BUNDLES:
        for board in _dashboards(files):
            titles[board["uid"]] = board["title"]
    assert {"slm-overview", "slm-runtime-vllm", "slm-runtime-llamacpp", "slm-runtime-onnxruntime",
            "slm-runtime-ollama"} <= set(titles)


@pytest.mark.parametrize("gated", [True, False], ids=["gateway", "direct"])
def test_a_signal_llama_server_does_not_export_is_named_on_its_panel_and_in_the_runbooks(gated: bool) -> None:
    files = files_of_matrix("llamacpp", gated)
    rules = "".join(text for path, text in files.items() if path.endswith(".rules.yml"))
    assert "slm:kv_cache_usage" not in rules and "llamacpp:kv_cache" not in rules
    for board in _dashboards(files):
        kv = [p for p in board["panels"] if p["title"] == "KV cache in use"]
        assert [p["type"] for p in kv] == ["text"], board["title"]
        assert "not exported by llama.cpp" in kv[0]["options"]["content"]
        assert all("kv_cache" not in t["expr"] for p in board["panels"] for t in p.get("targets", []))
    runbooks = files["monitoring/RUNBOOKS.md"]
    assert "## slmkvcachesaturated" not in runbooks
    assert "**SLMKVCacheSaturated**: its metric is not exported by llama.cpp" in runbooks


def test_a_runtime_that_exports_the_kv_cache_gets_its_graph_and_alert() -> None:
    files = files_of_matrix("vllm", True)
    for board in _dashboards(files):
        kv = [p for p in board["panels"] if p["title"] == "KV cache in use"]
        assert [p["type"] for p in kv] == ["timeseries"], board["title"]
    assert "## slmkvcachesaturated" in files["monitoring/RUNBOOKS.md"]
    assert "Not raised here" not in files["monitoring/RUNBOOKS.md"]
