"""Drive load: open loop (Poisson arrivals at a rate) or closed loop (a fixed number of streams), with warm-up."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import httpx

from slm_deploy.bench.measure import RequestRecord, stream_chat
from slm_deploy.bench.workload import LengthDistribution, request_shape

Mode = Literal["open", "closed"]
CLIENT_DROPPED = "not sent: the client's in-flight limit was reached"


@dataclass(frozen=True)
class LoadPlan:
    """One run: the load shape and the request mix."""

    mode: Mode
    level: float
    """Requests per second (open loop) or concurrent streams (closed loop)."""
    duration: float
    warmup: float
    prompt: LengthDistribution
    output: LengthDistribution
    seed: int = 0
    max_in_flight: int = 512
    ignore_eos: bool = False

    @property
    def label(self) -> str:
        """`rate 2/s` or `8 streams`, for tables and charts."""
        return f"rate {self.level:g}/s" if self.mode == "open" else f"{self.level:g} streams"


@dataclass(frozen=True)
class Target:
    """Where requests go and what they name."""

    url: str
    model: str
    headers: dict[str, str]


Progress = Callable[[float, int], None]
"""Called with the seconds elapsed and the requests finished so far."""


class _Run:
    """State shared by the request tasks of one run."""

    def __init__(self, client: httpx.AsyncClient, target: Target, plan: LoadPlan, progress: Progress | None,
                 timeout: float) -> None:
        self.client, self.target, self.plan, self.progress, self.timeout = client, target, plan, progress, timeout
        self.arrivals = random.Random(plan.seed)
        self.shapes = random.Random(plan.seed + 1)
        self.records: list[RequestRecord] = []
        self.zero = time.perf_counter()
        self.in_flight = 0
        self.finished = 0

    def now(self) -> float:
        return time.perf_counter() - self.zero

    def body(self) -> dict:
        shape = request_shape(self.shapes, self.plan.prompt, self.plan.output)
        body = {"model": self.target.model, "messages": [{"role": "user", "content": shape.prompt}],
                "max_tokens": shape.max_tokens, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        if self.plan.ignore_eos:
            body["ignore_eos"] = True
        return body

    async def one(self) -> None:
        start = self.now()
        record = RequestRecord("warmup" if start < self.plan.warmup else "measure", start)
        self.records.append(record)
        if self.in_flight >= self.plan.max_in_flight:
            record.error = CLIENT_DROPPED
            return
        self.in_flight += 1
        try:
            await stream_chat(self.client, self.target.url, self.target.headers, self.body(), record, self.zero,
                              self.timeout)
        finally:
            self.in_flight -= 1
            self.finished += 1
            if self.progress:
                self.progress(self.now(), self.finished)


def poisson_arrivals(rng: random.Random, rate: float, end: float) -> Iterator[float]:
    """Arrival times of a Poisson process at `rate` per second, from 0 until `end` (exponential gaps)."""
    arrival = rng.expovariate(rate)
    while arrival < end:
        yield arrival
        arrival += rng.expovariate(rate)


async def _open_loop(run: _Run) -> None:
    """Send each request at its arrival time, whatever is still in flight (open loop)."""
    tasks = []
    for arrival in poisson_arrivals(run.arrivals, run.plan.level, run.plan.warmup + run.plan.duration):
        await asyncio.sleep(max(0.0, arrival - run.now()))
        tasks.append(asyncio.create_task(run.one()))
    await asyncio.gather(*tasks)


async def _closed_loop(run: _Run) -> None:
    """A fixed number of streams, each sending its next request when the last one ends."""
    end = run.plan.warmup + run.plan.duration

    async def stream() -> None:
        while run.now() < end:
            await run.one()

    await asyncio.gather(*(stream() for _ in range(int(run.plan.level))))


async def drive(target: Target, plan: LoadPlan, *, timeout: float = 300.0, progress: Progress | None = None,
                transport: httpx.AsyncBaseTransport | None = None) -> list[RequestRecord]:
    """Run the plan to its end and return every request's record (warm-up ones included, marked)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=plan.max_in_flight)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport) as client:
        run = _Run(client, target, plan, progress, timeout)
        await (_open_loop(run) if plan.mode == "open" else _closed_loop(run))
    return sorted(run.records, key=lambda r: r.start)
