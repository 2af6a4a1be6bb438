"""The smoke report as a table for people and as JSON for scripts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from slm_deploy.smoke.runner import SmokeReport

STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def smoke_table(report: SmokeReport) -> Table:
    """One row per check: status, time taken and the reason."""
    title = f"smoke {report.endpoint}" + (f" ({report.model})" if report.model else "")
    table = Table(title=shown(title), title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("detail", overflow="fold")
    for result in report.results:
        style = STYLES[result.status]
        table.add_row(result.name, f"[{style}]{result.status.upper()}[/]", f"{result.seconds:.2f} s",
                      shown(result.detail))
    return table


def shown(text: str) -> str:
    """Text a server sent, safe for the terminal: no control characters, no rich markup."""
    return escape("".join(c if c.isprintable() else " " for c in text))


def smoke_summary(report: SmokeReport) -> str:
    """The closing line: counts of each status."""
    counts = {status: sum(1 for r in report.results if r.status == status) for status in STYLES}
    verdict = "PASSED" if report.passed else "FAILED"
    return f"smoke {verdict} ({counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip)"


def smoke_json(report: SmokeReport) -> str:
    """Stable JSON for --json."""
    return json.dumps(report.to_dict(), indent=2) + "\n"
