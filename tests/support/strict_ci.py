"""Where every judge and engine is required (SLM_DEPLOY_REQUIRE_TOOLS=all, as CI sets it), a skipped test
or module is a failure: `importorskip`, `pytest.skip` and a missing tool cannot turn a run green."""

from __future__ import annotations

import pytest

from .tools import STRICT_ENV, required_here

EVERYTHING = "all"


def _strict() -> bool:
    return required_here(EVERYTHING)


def _reason(report: pytest.BaseReport) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _fail(report: pytest.BaseReport) -> None:
    report.longrepr = f"skipped where {STRICT_ENV}={EVERYTHING} requires every judge and engine: {_reason(report)}"
    report.outcome = "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """A test or fixture that skipped fails instead (xfail stays as it is)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _strict():
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    """A module that skipped itself at import (importorskip) fails instead."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _strict():
        _fail(report)
