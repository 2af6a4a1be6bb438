"""The `slm-deploy` command: exit 0 ok, 1 findings, 2 bad input; errors never show a traceback.

Each command's module is imported only when that command runs: a `render` does not pay for the scaffolding,
image-building, benchmarking and smoke-test code (nor for rich), so it starts about as fast as the work allows.
"""

from __future__ import annotations

import gc
import json
import sys
from contextlib import contextmanager
from dataclasses import asdict
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Protocol, cast

import typer

from slm_deploy import __version__
from slm_deploy.errors import SlmDeployError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

EXIT_BAD_INPUT = 2
# click's UsageError, whether typer bundles click (>= 0.2x) or depends on it
USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

COMMANDS = {
    "render": "slm_deploy.cli.spec_commands:render",
    "validate": "slm_deploy.cli.spec_commands:validate",
    "schema": "slm_deploy.cli.spec_commands:schema",
    "new": "slm_deploy.cli.new:new",
    "build": "slm_deploy.cli.build:build",
    "check": "slm_deploy.cli.check:check",
    "pins": "slm_deploy.cli.pins:pins",
    "smoke": "slm_deploy.smoke.command:smoke",
    "bench": "slm_deploy.bench.command:bench",
    "bench-report": "slm_deploy.bench.command:bench_report",
}
"""Every command, in the order --help lists them, with the function that implements it."""


class _UsageError(Protocol):
    """What main() uses of click's UsageError, found at run time above."""

    def show(self) -> None:
        """Print the usage line and the error to stderr."""


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"slm-deploy {__version__}\n")
        raise typer.Exit()


def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Typed specs to hardened Dockerfiles, Compose projects and Kubernetes workloads."""


@cache
def build_app(*names: str) -> typer.Typer:
    """The CLI with the named commands (all of them when none is named)."""
    app = typer.Typer(
        name="slm-deploy",
        help="Render hardened deployments of small language models from one typed spec.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(main_options)
    with _collector_paused():
        for name in names or tuple(COMMANDS):
            module, function = COMMANDS[name].split(":")
            app.command(name)(getattr(import_module(module), function))
    return app


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Import a command's modules with the cyclic garbage collector paused: importing creates long-lived objects
    (modules, classes, validators) and frees almost none, so collecting while they load only costs time (about
    30 ms of a render). Frozen afterwards, they are not scanned again by the command's own collections."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _app_for(args: Sequence[str]) -> typer.Typer:
    """Only the command the arguments name, when they start with one; otherwise (help, a typo) all of them."""
    return build_app(args[0]) if args and args[0] in COMMANDS else build_app()


def __getattr__(name: str) -> typer.Typer:
    """`app`, the whole CLI, for typer's test runner and for projects that test their stacks through it."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def error_document(exc: SlmDeployError) -> dict:
    """What --json prints when the command fails: the exit code and each problem's fields, as stderr says them."""
    problems = [asdict(problem) for problem in getattr(exc, "problems", [])]  # SpecError's, the template's reasons
    return {"error": {"exit_code": exc.exit_code, "message": str(exc), "problems": problems}}


def main() -> None:
    """Console-script entry point: turn every user error into one message and exit code 2."""
    try:
        code = _app_for(sys.argv[1:])(standalone_mode=False)
    except SlmDeployError as exc:
        from slm_deploy.cli.console import print_error

        print_error(str(exc))
        if "--json" in sys.argv[1:]:
            sys.stdout.write(json.dumps(error_document(exc), indent=2) + "\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except USAGE_ERROR as exc:
        cast(_UsageError, exc).show()
        sys.exit(EXIT_BAD_INPUT)
    if isinstance(code, int) and code:
        sys.exit(code)  # without standalone mode, click returns a command's typer.Exit code instead of exiting
