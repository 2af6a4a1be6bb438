"""`slm-deploy smoke ENDPOINT`: check a deployed endpoint answers correctly; exit 1 on any failed check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from slm_deploy.errors import SlmDeployError
from slm_deploy.smoke.expectations import SmokeExpectations, read_expectations
from slm_deploy.smoke.keys import read_api_key

EXIT_FAILED = 1


class SmokeOptionError(SlmDeployError):
    """A smoke option is malformed; names the option and what is allowed, never the value."""


def http_url(option: str, value: str) -> str:
    """The URL, if it is http(s) with a host; otherwise an error naming the option."""
    parts = urlsplit(value)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password
            or parts.query or parts.fragment):
        raise SmokeOptionError(f"{option}: not an http(s) URL with a host\n"
                               "  allowed: http://host:port or https://host/prefix (no credentials, query or fragment)")
    return value.rstrip("/")


def _expectations(spec: Path | None, expect: Path | None) -> SmokeExpectations:
    if spec and expect:
        raise SmokeOptionError("--spec and --expect: give one of them")
    if expect:
        return read_expectations(expect)
    if spec:
        try:
            from slm_deploy.smoke.from_spec import expectations_for
            from slm_deploy.spec.loader import load_deployment
        except ImportError:  # the smoke image carries the checks, not the spec code
            raise SmokeOptionError("--spec: this installation has only the smoke checks\n"
                                   "  hint: use --expect with the expectations file `render` wrote") from None
        return expectations_for(load_deployment(spec))
    return SmokeExpectations()


def smoke(
    endpoint: Annotated[str, typer.Argument(help="Base URL clients use, e.g. http://127.0.0.1:8080.")],
    spec: Annotated[Path | None, typer.Option("--spec", dir_okay=False,
                                              help="The spec the deployment was rendered from: the model, "
                                                   "runtime, auth and metrics to expect.")] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file", dir_okay=False,
                                                      help="A key alone, or the gateway's key_id:key file "
                                                           "(the line with id `smoke`, else the first).")] = None,
    metrics_url: Annotated[str | None, typer.Option("--metrics-url",
                                                    help="Where Prometheus scrapes; checked to answer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, max=3600,
                                           help="Seconds to wait for each answer.")] = 60.0,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip a check, named as in the table's "
                                                                   "first column (repeatable).")] = None,
    expect: Annotated[Path | None, typer.Option("--expect", dir_okay=False,
                                                help="Expectations JSON written by `render` (the smoke "
                                                     "image uses it instead of --spec).")] = None,
) -> None:
    """Check ENDPOINT: health, models, chat (plain and streamed), tools, Ollama's API, auth and /metrics."""
    # The HTTP client loads here, not at start-up, so the other commands do not pay for it.
    from slm_deploy.smoke.report import smoke_json, smoke_summary, smoke_table
    from slm_deploy.smoke.runner import CHECK_NAMES, run_smoke

    unknown = sorted(set(skip or ()) - set(CHECK_NAMES))
    if unknown:
        raise SmokeOptionError(f"--skip: unknown check\n  allowed: {', '.join(CHECK_NAMES)}")
    base = http_url("ENDPOINT", endpoint)
    scrape = http_url("--metrics-url", metrics_url) if metrics_url else None
    expectations = _expectations(spec, expect)
    key = read_api_key(api_key_file) if api_key_file else None
    report = run_smoke(base, expectations, key=key, metrics_url=scrape, timeout=timeout, skip=skip or ())
    if as_json:
        sys.stdout.write(smoke_json(report))
    else:
        out = Console() if sys.stdout.isatty() else Console(width=160)
        out.print(smoke_table(report))
        out.print(smoke_summary(report), highlight=False)
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)
