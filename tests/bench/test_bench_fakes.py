"""Bench against fake upstreams with known injected delays: the measured TTFT, inter-token latency and tokens/s
must match what the fake was told to do.

Stated tolerance: a measured time may never be shorter than the injected delay (that would be measuring
something else). TTFT may exceed it by at most half the rest of the stream (a first token measured at the
first chunk, not at a later one or from an earlier start, whatever else the machine runs); an inter-token
gap by at most 10 ms (event loops, sockets and a shared 2-core machine); rates derived from them may be up
to 20% low and never above the injected rate by more than 2%.
"""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest

from slm_deploy.bench.load import LoadPlan, Target, poisson_arrivals
from slm_deploy.bench.run import run_benchmark
from slm_deploy.bench.stats import Slo
from slm_deploy.bench.workload import parse_lengths
from tests.conftest import run_cli
from tests.support.fake_upstream import RESIDENT_MEMORY_BYTES, FakeBehaviour, fake_upstream

KEY = "k" * 32
TTFT, GAP, TOKENS = 0.25, 0.04, 16
INJECTED_RATE = 1 / GAP  # tokens per second per stream after the first token
TTFT_SLACK, GAP_SLACK = GAP * (TOKENS - 1) / 2, 0.01


def bench(server_url: str, mode: str, level: float, *, duration: float = 3.0, warmup: float = 0.5,
          slo: Slo = Slo(), metrics_url: str | None = None) -> dict:
    plan = LoadPlan(mode, level, duration, warmup, parse_lengths("p", "16"), parse_lengths("o", str(TOKENS)))
    target = Target(f"{server_url}/v1/chat/completions", "fake-model", {"Authorization": f"Bearer {KEY}"})
    return run_benchmark(target, plan, slo, label=f"{mode} {level}", memory_url=metrics_url,
                         memory_metric="process_resident_memory_bytes" if metrics_url else None, timeout=30)


@pytest.fixture(scope="module")
def closed_run() -> dict:
    with fake_upstream(FakeBehaviour(ttft=TTFT, token_gap=GAP, tokens=TOKENS,
                                     faults=frozenset({"public-metrics"}))) as server:
        return bench(server.url, "closed", 2, duration=4.0, metrics_url=f"{server.url}/metrics")


def test_time_to_first_token_matches_the_injected_delay(closed_run: dict) -> None:
    ttft = closed_run["summary"]["ttft_s"]
    assert TTFT <= ttft["p50"] <= ttft["p99"] <= TTFT + TTFT_SLACK, ttft


def test_inter_token_latency_matches_the_injected_gap(closed_run: dict) -> None:
    itl = closed_run["summary"]["itl_s"]
    assert GAP * 0.95 <= itl["p50"] <= GAP + GAP_SLACK, itl


def test_tokens_per_second_per_stream_match_the_injected_rate(closed_run: dict) -> None:
    per_stream = closed_run["summary"]["stream_tokens_per_s"]["mean"]
    assert INJECTED_RATE * 0.8 <= per_stream <= INJECTED_RATE * 1.02, per_stream


def test_total_tokens_per_second_match_two_streams_of_the_injected_shape(closed_run: dict) -> None:
    request_seconds = TTFT + GAP * (TOKENS - 1)
    expected = 2 * TOKENS / request_seconds
    measured = closed_run["summary"]["output_tokens_per_s"]
    assert expected * 0.8 <= measured <= expected * 1.02, (measured, expected)


def test_usage_counts_every_token_and_warmup_requests_are_left_out(closed_run: dict) -> None:
    summary, requests = closed_run["summary"], closed_run["requests"]
    measured = [r for r in requests if r["phase"] == "measure"]
    assert summary["requests"] == len(measured) > 0
    assert any(r["phase"] == "warmup" for r in requests)
    assert all(r["output_tokens"] == TOKENS for r in measured)
    assert summary["failed"] == 0 and summary["error_rate"] == 0.0


def test_memory_comes_from_the_servers_metrics(closed_run: dict) -> None:
    memory = closed_run["memory"]
    assert memory["available"] and memory["peak_bytes"] == RESIDENT_MEMORY_BYTES and memory["samples"] >= 2


def test_an_ollama_style_server_is_measured_on_its_openai_api_too() -> None:
    with fake_upstream(FakeBehaviour(style="ollama", ttft=TTFT, token_gap=GAP, tokens=TOKENS)) as server:
        summary = bench(server.url, "closed", 1, duration=2.5)["summary"]
    assert TTFT <= summary["ttft_s"]["p50"] <= TTFT + TTFT_SLACK
    assert INJECTED_RATE * 0.8 <= summary["stream_tokens_per_s"]["p50"] <= INJECTED_RATE * 1.02


def test_goodput_counts_only_requests_within_the_slo() -> None:
    with fake_upstream(FakeBehaviour(ttft=0.1, token_gap=0.005, tokens=5)) as server:
        strict = bench(server.url, "closed", 1, duration=1.5, slo=Slo(ttft=0.05))
        loose = bench(server.url, "closed", 1, duration=1.5, slo=Slo(ttft=0.5, tpot=0.05, e2e=1.0))
    assert strict["summary"]["goodput_requests_per_s"] == 0.0 and strict["summary"]["succeeded"] > 0
    assert loose["summary"]["goodput_ratio"] == 1.0
    assert loose["summary"]["goodput_requests_per_s"] == pytest.approx(loose["summary"]["requests_per_s"])


def test_rate_limited_and_failed_requests_are_counted_apart() -> None:
    with fake_upstream(FakeBehaviour(tokens=3, faults=frozenset({"chat-429-half"}))) as server:
        summary = bench(server.url, "closed", 1, duration=1.0, warmup=0)["summary"]
    assert summary["rate_limited"] >= 1 and summary["rate_limited"] == summary["failed"]
    assert 0.4 <= summary["rate_limited_rate"] <= 0.6 and summary["error_rate"] == summary["rate_limited_rate"]
    assert list(summary["errors"]) == ["HTTP 429: Rate limit exceeded."]


def test_a_stream_that_never_ends_is_an_error_after_the_request_timeout() -> None:
    plan = LoadPlan("closed", 1, 1.0, 0.0, parse_lengths("p", "8"), parse_lengths("o", "4"))
    with fake_upstream(FakeBehaviour(token_gap=0.01, faults=frozenset({"stream-endless"}))) as server:
        run = run_benchmark(Target(f"{server.url}/v1/chat/completions", "fake-model",
                                   {"Authorization": f"Bearer {KEY}"}), plan, Slo(), label="endless", timeout=1.5)
    assert run["summary"]["succeeded"] == 0 and run["summary"]["error_rate"] == 1.0
    assert list(run["summary"]["errors"]) == ["no [DONE] within the request timeout"]


def test_open_loop_sends_every_poisson_arrival_without_waiting_for_answers() -> None:
    with fake_upstream(FakeBehaviour(ttft=0.5, token_gap=0.0, tokens=2)) as server:
        run = bench(server.url, "open", 8, duration=2.0, warmup=0.5)
    expected = len(list(poisson_arrivals(random.Random(0), 8, 2.5)))
    assert len(run["requests"]) == expected
    starts = [r["start"] for r in run["requests"]]
    overlapping = sum(1 for a, b in zip(starts, starts[1:]) if b - a < 0.5)
    assert overlapping > 0  # a request was sent while the one before it was still waiting for its first token
    assert all(r["error"] is None for r in run["requests"])


def test_poisson_arrivals_have_the_asked_rate_and_exponential_gaps() -> None:
    arrivals = list(poisson_arrivals(random.Random(7), 10.0, 2000.0))
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert len(arrivals) / 2000.0 == pytest.approx(10.0, rel=0.03)
    assert statistics.fmean(gaps) == pytest.approx(0.1, rel=0.03)
    assert statistics.stdev(gaps) / statistics.fmean(gaps) == pytest.approx(1.0, rel=0.05)  # exponential: CV 1


def test_the_cli_runs_two_loads_and_writes_json_png_and_html(tmp_path: Path) -> None:
    keys = tmp_path / "key"
    keys.write_text(KEY)
    out = tmp_path / "runs.json"
    with fake_upstream(FakeBehaviour(ttft=0.05, token_gap=0.01, tokens=6)) as server:
        result = run_cli("bench", server.url, "--api-key-file", str(keys), "--concurrency", "1", "--rate", "4",
                         "--duration", "1.5", "--warmup", "0.2", "--output-tokens", "uniform:4-8",
                         "--label", "fake", "--json-out", str(out), "--png", str(tmp_path / "c.png"),
                         "--html", str(tmp_path / "c.html"))
    assert result.code == 0, result.stderr
    runs = json.loads(out.read_text())["runs"]
    assert [r["label"] for r in runs] == ["fake rate 4/s", "fake 1 streams"]
    assert runs[0]["model"] == "fake-model" and runs[0]["load"]["output_tokens"] == "uniform:4-8"
    assert "TTFT p50 / p99 (ms)" in result.stdout and "fake 1 streams" in result.stdout
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = run_cli("bench-report", str(out), "--json")
    assert report.code == 0 and [r["label"] for r in json.loads(report.stdout)] == ["fake rate 4/s", "fake 1 streams"]


@pytest.mark.parametrize(("args", "message"), [
    (["--concurrency", "1", "--png", "/nonexistent-folder/chart.png"], "--png: its folder does not exist"),
    (["--concurrency", "1", "--prompt-tokens", "lots"], "--prompt-tokens: not a length distribution"),
    (["--concurrency", "1", "--output-tokens", "uniform:9-3"], "--output-tokens: not a length distribution"),
    ([], "--rate or --concurrency: give at least one load level"),
])
def test_bad_bench_options_exit_2_naming_the_option(args: list[str], message: str) -> None:
    result = run_cli("bench", "http://127.0.0.1:9", "--model", "m", *args)
    assert result.code == 2 and message in result.stderr and "Traceback" not in result.stderr
