"""One benchmark run end to end: drive the load, sample memory alongside, summarise, and keep the records."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path

import httpx

from slm_deploy.bench.load import LoadPlan, Progress, Target, drive
from slm_deploy.bench.memory import MemorySampler
from slm_deploy.bench.stats import Slo, summarise
from slm_deploy.errors import SlmDeployError

RESULTS_FORMAT = "slm-deploy-bench/1"
RECORD_FIELDS = ("phase", "start", "status", "ttft", "e2e", "output_tokens", "prompt_tokens", "error")


class ResultsFileError(SlmDeployError):
    """A results file that is not one `bench` wrote; names the file."""


async def _measure(target: Target, plan: LoadPlan, memory: MemorySampler | None, timeout: float,
                   progress: Progress | None, transport: httpx.AsyncBaseTransport | None) -> tuple[list, dict | None]:
    if memory is None:
        return await drive(target, plan, timeout=timeout, progress=progress, transport=transport), None
    stop = asyncio.Event()
    zero = time.perf_counter()
    async with httpx.AsyncClient(timeout=10.0, transport=transport) as client:
        poller = asyncio.create_task(memory.poll(client, stop, lambda: time.perf_counter() - zero))
        try:
            records = await drive(target, plan, timeout=timeout, progress=progress, transport=transport)
        finally:
            stop.set()
            await poller
    return records, memory.summary()


def run_benchmark(target: Target, plan: LoadPlan, slo: Slo, *, label: str, memory_url: str | None = None,
                  memory_metric: str | None = None, timeout: float = 300.0, progress: Progress | None = None,
                  transport: httpx.AsyncBaseTransport | None = None) -> dict:
    """Run one plan and return its result document (what --json-out writes and charts read)."""
    sampler = MemorySampler(memory_url, memory_metric) if memory_url and memory_metric else None
    records, memory = asyncio.run(_measure(target, plan, sampler, timeout, progress, transport))
    return {
        "label": label,
        "endpoint": target.url.removesuffix("/v1/chat/completions"),
        "model": target.model,
        "load": {"mode": plan.mode, "level": plan.level, "duration_s": plan.duration, "warmup_s": plan.warmup,
                 "prompt_tokens": plan.prompt.describe(), "output_tokens": plan.output.describe(),
                 "seed": plan.seed, "ignore_eos": plan.ignore_eos},
        "summary": summarise(records, slo),
        "memory": memory or {"available": False, "reason": "no --metrics-url given"},
        "requests": [{k: asdict(r)[k] for k in RECORD_FIELDS} for r in records],
    }


def write_results(runs: list[dict], path: Path) -> None:
    """Write runs as one JSON document."""
    path.write_text(json.dumps({"format": RESULTS_FORMAT, "runs": runs}, indent=1) + "\n", encoding="utf-8")


def read_results(path: Path) -> list[dict]:
    """The runs of a results file written by `bench --json-out`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{path}: cannot read benchmark results ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise ResultsFileError(f"{path}: not a results file written by `slm-deploy bench --json-out`")
    runs = document.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) and "summary" in r and "label" in r for r in runs):
        raise ResultsFileError(f"{path}: `runs` must be a list of run results")
    return runs
