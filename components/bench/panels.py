"""What the comparison chart shows, as data both renderers (PNG and HTML) draw from."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 2**20
LATENCY_POINTS = ("p50", "p90", "p99")


@dataclass(frozen=True)
class Panel:
    """One subplot: grouped bars, a group per category, a bar per run."""

    title: str
    unit: str
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    """(run label, one value per category); NaN where the run has no value."""


def _get(summary: dict, metric: str, point: str, scale: float) -> float:
    values = summary.get(metric)
    return values[point] * scale if isinstance(values, dict) and point in values else math.nan


def _memory_mib(run: dict) -> float:
    memory = run.get("memory") or {}
    return memory["peak_bytes"] / MIB if memory.get("available") else math.nan


def _latency(runs: list[dict], title: str, metric: str, unit: str, scale: float) -> Panel:
    return Panel(title, unit, LATENCY_POINTS, tuple(
        (run["label"], tuple(_get(run["summary"], metric, p, scale) for p in LATENCY_POINTS)) for run in runs))


def comparison_panels(runs: list[dict]) -> list[Panel]:
    """Latency, throughput, goodput, failures and memory, each with its unit, every run side by side."""
    panels = [
        _latency(runs, "Time to first token", "ttft_s", "ms", 1000.0),
        _latency(runs, "Inter-token latency", "itl_s", "ms", 1000.0),
        _latency(runs, "End-to-end latency", "e2e_s", "s", 1.0),
        Panel("Output throughput", "tokens/s", ("all streams", "per stream (median)"), tuple(
            (run["label"], (run["summary"]["output_tokens_per_s"],
                            _get(run["summary"], "stream_tokens_per_s", "p50", 1.0))) for run in runs)),
        Panel("Requests completed", "requests/s", ("all", "within SLO (goodput)"), tuple(
            (run["label"], (run["summary"]["requests_per_s"], run["summary"]["goodput_requests_per_s"]))
            for run in runs)),
        Panel("Failed requests", "% of requests", ("any error", "HTTP 429"), tuple(
            (run["label"], (100 * run["summary"]["error_rate"], 100 * run["summary"]["rate_limited_rate"]))
            for run in runs)),
        Panel("Server memory (peak RSS)", "MiB", ("peak",), tuple(
            (run["label"], (_memory_mib(run),)) for run in runs)),
    ]
    return panels


def run_caption(run: dict) -> str:
    """One line per run: its label and load, for the chart's footnote."""
    load = run["load"]
    shape = f"{load['level']:g} req/s Poisson" if load["mode"] == "open" else f"{load['level']:g} concurrent streams"
    slo = ", ".join(f"{name} <= {limit:g} s" for name, limit in run["summary"]["slo"].items() if limit is not None)
    return (f"{run['label']}: {shape}, {load['duration_s']:g} s after {load['warmup_s']:g} s warm-up, "
            f"prompt {load['prompt_tokens']} tokens, output {load['output_tokens']} tokens, "
            f"{run['summary']['requests']} requests, model {run['model']}, SLO {slo or 'none'}")
