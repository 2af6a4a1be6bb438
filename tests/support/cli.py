"""Run the `slm-deploy` entry point inside the test process: the same code path as the console script
(argument parsing, error handling, exit codes), without paying for a new interpreter per call."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from pathlib import Path

from slm_deploy.cli.app import main
from tests.conftest import CliResult


def run_in_process(*args: str, cwd: Path | None = None) -> CliResult:
    """Call main() with `args` as argv; an exception that escapes it is reported as a traceback on stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    code = 0
    try:
        sys.argv = ["slm-deploy", *args]
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except Exception:  # noqa: BLE001 - an escaped exception is exactly what the tests look for
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return CliResult(code, stdout.getvalue(), stderr.getvalue())
