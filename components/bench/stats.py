"""Summarise a run's records: latency percentiles, throughput, goodput under an SLO, error and 429 rates."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from slm_deploy.bench.load import CLIENT_DROPPED
from slm_deploy.bench.measure import RequestRecord

PERCENTILES = (50, 90, 95, 99)
RATE_LIMITED = 429


@dataclass(frozen=True)
class Slo:
    """Per-request objectives a request must meet to count towards goodput (None: not checked)."""

    ttft: float | None = None
    tpot: float | None = None
    e2e: float | None = None

    def met_by(self, record: RequestRecord) -> bool:
        """True for a successful request within every objective that is set."""
        if not record.ok:
            return False
        checks = ((self.ttft, record.ttft), (self.tpot, record.tpot or 0.0), (self.e2e, record.e2e))
        return all(limit is None or (value is not None and value <= limit) for limit, value in checks)


def distribution(values: Sequence[float]) -> dict[str, float] | None:
    """Mean and the percentiles (linear interpolation between samples, as numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        points = {f"p{p}": ordered[0] for p in PERCENTILES}
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        points = {f"p{p}": cuts[p - 1] for p in PERCENTILES}
    return {"mean": statistics.fmean(ordered), **points, "max": ordered[-1]}


def summarise(records: Sequence[RequestRecord], slo: Slo) -> dict:
    """The measured requests (warm-up excluded), over the time from the first one's start to the last answer.

    Starting the clock at the first measured request, not at the end of the warm-up, keeps the tail of warm-up
    requests (whose tokens are not counted) from diluting the rates.
    """
    measured = [r for r in records if r.phase == "measure"]
    ok = [r for r in measured if r.ok]
    ends = [r.start + r.e2e for r in ok if r.e2e is not None]
    elapsed = (max(ends) - min(r.start for r in measured)) if ends else 0.0
    tokens = sum(r.output_tokens for r in ok)
    per_stream = [(r.output_tokens - 1) / (r.e2e - r.ttft) for r in ok
                  if r.output_tokens > 1 and r.e2e is not None and r.ttft is not None and r.e2e > r.ttft]
    good = sum(1 for r in measured if slo.met_by(r))
    count = len(measured)
    dropped = sum(1 for r in measured if r.error == CLIENT_DROPPED)
    limited = sum(1 for r in measured if r.status == RATE_LIMITED)
    failed = count - len(ok)
    return {
        "requests": count,
        "succeeded": len(ok),
        "failed": failed,
        "rate_limited": limited,
        "dropped_by_client": dropped,
        "error_rate": failed / count if count else 0.0,
        "rate_limited_rate": limited / count if count else 0.0,
        "elapsed_s": elapsed,
        "output_tokens": tokens,
        "output_tokens_per_s": tokens / elapsed if elapsed else 0.0,
        "requests_per_s": len(ok) / elapsed if elapsed else 0.0,
        "goodput_requests_per_s": good / elapsed if elapsed else 0.0,
        "goodput_ratio": good / count if count else 0.0,
        "slo": asdict(slo),
        "ttft_s": distribution([r.ttft for r in ok if r.ttft is not None]),
        "itl_s": distribution([gap for r in ok for gap in r.itl]),
        "tpot_s": distribution([r.tpot for r in ok if r.tpot is not None]),
        "e2e_s": distribution([r.e2e for r in ok if r.e2e is not None]),
        "stream_tokens_per_s": distribution(per_stream),
        "errors": _error_counts(measured),
    }


def _error_counts(records: Sequence[RequestRecord]) -> dict[str, int]:
    """How often each distinct failure happened (the first words of its message)."""
    counts: dict[str, int] = {}
    for record in records:
        if not record.ok:
            reason = record.error or f"HTTP {record.status}"
            counts[reason[:80]] = counts.get(reason[:80], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
