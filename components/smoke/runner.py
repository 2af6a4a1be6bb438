"""Run every smoke check in order and collect a pass/fail/skip result with its reason for each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Literal

import httpx

from slm_deploy.smoke import access_checks, ollama_checks, openai_checks
from slm_deploy.smoke.expectations import SmokeExpectations
from slm_deploy.smoke.keys import ApiKey
from slm_deploy.smoke.session import CheckFailed, CheckSkipped, SmokeSession

Status = Literal["pass", "fail", "skip"]

CHECKS: tuple[tuple[str, Callable[[SmokeSession], str]], ...] = (
    ("health", openai_checks.check_health),
    ("ready", openai_checks.check_ready),
    ("models", openai_checks.check_models),
    ("chat", openai_checks.check_chat),
    ("chat-stream", openai_checks.check_chat_stream),
    ("tool-call", openai_checks.check_tool_call),
    ("ollama-tags", ollama_checks.check_ollama_tags),
    ("ollama-chat", ollama_checks.check_ollama_chat),
    ("auth-no-key", access_checks.check_no_key_refused),
    ("auth-key", access_checks.check_key_accepted),
    ("auth-wrong-key", access_checks.check_wrong_key_refused),
    ("metrics-public", access_checks.check_metrics_public),
    ("metrics-scrape", access_checks.check_metrics_scrape),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)


@dataclass(frozen=True)
class CheckResult:
    """One row of the report."""

    name: str
    status: Status
    detail: str
    seconds: float


@dataclass(frozen=True)
class SmokeReport:
    """Every check's result, plus what was tested."""

    endpoint: str
    model: str | None
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when no check failed (skips do not fail a run)."""
        return all(r.status != "fail" for r in self.results)

    def to_dict(self) -> dict:
        """The --json document."""
        return {"endpoint": self.endpoint, "model": self.model, "passed": self.passed,
                "results": [asdict(r) for r in self.results]}


def _run_one(session: SmokeSession, name: str, check: Callable[[SmokeSession], str]) -> CheckResult:
    started = time.perf_counter()
    status: Status
    try:
        status, detail = "pass", check(session)
    except CheckSkipped as skipped:
        status, detail = "skip", str(skipped)
    except CheckFailed as failed:
        status, detail = "fail", str(failed)
    except httpx.TimeoutException as exc:
        status, detail = "fail", f"no answer in time ({type(exc).__name__})"
    except httpx.TransportError as exc:
        status, detail = "fail", f"cannot reach the endpoint ({type(exc).__name__}: {session.redact(str(exc))})"
    return CheckResult(name, status, detail, round(time.perf_counter() - started, 3))


def run_smoke(endpoint: str, expect: SmokeExpectations, *, key: ApiKey | None = None, metrics_url: str | None = None,
              timeout: float = 60.0, skip: Iterable[str] = (),
              transport: httpx.BaseTransport | None = None) -> SmokeReport:
    """Check the endpoint against the expectations; a check named in `skip` is reported as skipped."""
    skipped = set(skip)
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        session = SmokeSession(client, endpoint, expect, key=key, metrics_url=metrics_url)
        results = []
        for name, check in CHECKS:
            if name in skipped:
                results.append(CheckResult(name, "skip", "skipped with --skip", 0.0))
            else:
                results.append(_run_one(session, name, check))
    return SmokeReport(endpoint, session.model, tuple(results))
