"""The comparison chart: every panel has a title and a unit, every run a colour in the legend, and the files are
a real PNG and a page that opens without a network."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from slm_deploy.bench.charts import write_html, write_png
from slm_deploy.bench.load import LoadPlan, Target
from slm_deploy.bench.panels import comparison_panels
from slm_deploy.bench.run import run_benchmark
from slm_deploy.bench.stats import Slo
from slm_deploy.bench.workload import parse_lengths
from tests.support.fake_upstream import FakeBehaviour, fake_upstream

KEY = "k" * 32


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    """Two configurations of a fake server side by side: a fast one at 2 streams, a slow one at 1."""
    found = []
    for label, behaviour, streams in (("fast", FakeBehaviour(ttft=0.05, token_gap=0.01, tokens=12), 2),
                                      ("slow", FakeBehaviour(ttft=0.15, token_gap=0.03, tokens=12), 1)):
        with fake_upstream(behaviour) as server:
            plan = LoadPlan("closed", streams, 2.0, 0.3, parse_lengths("p", "32"), parse_lengths("o", "12"))
            target = Target(f"{server.url}/v1/chat/completions", "fake-model", {"Authorization": f"Bearer {KEY}"})
            found.append(run_benchmark(target, plan, Slo(ttft=0.1), label=f"{label} {plan.label}"))
    return found


def test_every_panel_has_a_unit_and_a_value_per_run(runs: list[dict]) -> None:
    panels = comparison_panels(runs)
    assert [p.title for p in panels] == ["Time to first token", "Inter-token latency", "End-to-end latency",
                                         "Output throughput", "Requests completed", "Failed requests",
                                         "Server memory (peak RSS)"]
    assert all(p.unit for p in panels)
    for panel in panels[:6]:
        assert [label for label, _ in panel.series] == ["fast 2 streams", "slow 1 streams"]
        assert all(not math.isnan(v) for _, values in panel.series for v in values), panel.title
    fast, slow = (values for _, values in panels[0].series)
    assert fast[0] < slow[0]  # the slower server's TTFT p50 is drawn higher


def test_the_png_is_a_chart_of_the_expected_size(runs: list[dict], tmp_path: Path) -> None:
    from matplotlib import image

    path = tmp_path / "bench.png"
    write_png(runs, path)
    pixels = image.imread(path)
    assert pixels.shape[1] == 2000 and pixels.shape[0] >= 900
    assert pixels.std() > 0.05  # not a blank canvas


def test_the_html_page_is_self_contained_and_names_every_run_and_unit(runs: list[dict], tmp_path: Path) -> None:
    path = tmp_path / "bench.html"
    write_html(runs, path)
    page = path.read_text(encoding="utf-8").replace("\\u002f", "/")  # plotly escapes / in its JSON
    assert "<script src=\"http" not in page and "plotly" in page.lower()
    for text in ("fast 2 streams", "slow 1 streams", "tokens/s", "requests/s", "% of requests", "MiB",
                 "Time to first token"):
        assert text in page
