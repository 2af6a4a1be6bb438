"""The runs as a table: one column per run, one row per measure, units in the row names."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

MIB = 2**20


def _latency(metric: str, point: str, scale: float) -> Callable[[dict], str]:
    def cell(run: dict) -> str:
        values = run["summary"].get(metric)
        return f"{values[point] * scale:.1f}" if values else "-"
    return cell


def _memory(run: dict) -> str:
    memory = run.get("memory") or {}
    return f"{memory['peak_bytes'] / MIB:.0f}" if memory.get("available") else "-"


ROWS: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("load", lambda r: f"{r['load']['level']:g} req/s" if r["load"]["mode"] == "open"
     else f"{r['load']['level']:g} streams"),
    ("requests (measured)", lambda r: str(r["summary"]["requests"])),
    ("TTFT p50 / p99 (ms)", lambda r: f"{_latency('ttft_s', 'p50', 1000)(r)} / "
                                      f"{_latency('ttft_s', 'p99', 1000)(r)}"),
    ("ITL p50 / p99 (ms)", lambda r: f"{_latency('itl_s', 'p50', 1000)(r)} / "
                                     f"{_latency('itl_s', 'p99', 1000)(r)}"),
    ("TPOT mean (ms)", _latency("tpot_s", "mean", 1000)),
    ("E2E p50 / p99 (s)", lambda r: f"{_latency('e2e_s', 'p50', 1)(r)} / {_latency('e2e_s', 'p99', 1)(r)}"),
    ("output tokens/s (all streams)", lambda r: f"{r['summary']['output_tokens_per_s']:.1f}"),
    ("output tokens/s per stream (median)", _latency("stream_tokens_per_s", "p50", 1)),
    ("requests/s", lambda r: f"{r['summary']['requests_per_s']:.2f}"),
    ("goodput (requests/s within SLO)", lambda r: f"{r['summary']['goodput_requests_per_s']:.2f} "
                                                  f"({100 * r['summary']['goodput_ratio']:.0f}%)"),
    ("errors (%)", lambda r: f"{100 * r['summary']['error_rate']:.1f}"),
    ("HTTP 429 (%)", lambda r: f"{100 * r['summary']['rate_limited_rate']:.1f}"),
    ("server memory peak (MiB)", _memory),
)


def bench_table(runs: list[dict]) -> Table:
    """Runs side by side."""
    table = Table(title="bench", title_justify="left")
    table.add_column("measure")
    for run in runs:
        table.add_column(run["label"], justify="right")
    for name, cell in ROWS:
        table.add_row(name, *(cell(run) for run in runs))
    return table
