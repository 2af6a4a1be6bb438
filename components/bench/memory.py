"""Sample the server's resident memory from its Prometheus metrics while a run goes on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

DEFAULT_METRIC = "process_resident_memory_bytes"
INTERVAL_SECONDS = 1.0


def read_gauge(text: str, metric: str) -> float | None:
    """The sum of a metric's samples (one per process), or None when the exposition lacks it."""
    values = [sample.value for family in text_string_to_metric_families(text)
              for sample in family.samples if sample.name == metric]
    return sum(values) if values else None


@dataclass
class MemorySampler:
    """Polls a metrics URL every second until stopped; keeps (seconds since start, bytes) pairs."""

    url: str
    metric: str = DEFAULT_METRIC
    samples: list[tuple[float, float]] = field(default_factory=list)
    problem: str | None = None

    async def poll(self, client: httpx.AsyncClient, stop: asyncio.Event, clock) -> None:
        """Sample until `stop` is set; a failing scrape is remembered, not fatal."""
        while not stop.is_set():
            try:
                response = await client.get(self.url)
                response.raise_for_status()
                value = read_gauge(response.text, self.metric)
                if value is None:
                    self.problem = f"the metrics do not include {self.metric}"
                else:
                    self.samples.append((clock(), value))
            except (httpx.HTTPError, ValueError) as exc:
                self.problem = f"scraping failed ({type(exc).__name__})"
            try:
                await asyncio.wait_for(stop.wait(), INTERVAL_SECONDS)
            except asyncio.TimeoutError:
                pass

    def summary(self) -> dict:
        """Peak, first and last resident memory in bytes, or why there is none."""
        if not self.samples:
            return {"metric": self.metric, "available": False, "reason": self.problem or "no samples"}
        values = [v for _, v in self.samples]
        return {"metric": self.metric, "available": True, "peak_bytes": max(values), "start_bytes": values[0],
                "end_bytes": values[-1], "samples": len(values)}
