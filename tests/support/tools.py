"""Locate and run external tools and engines: a missing one is a visible skip on a workstation and a
failure in CI, where SLM_DEPLOY_REQUIRE_TOOLS names it (or says `all`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

STRICT_ENV = "SLM_DEPLOY_REQUIRE_TOOLS"


class ToolUnavailable(pytest.skip.Exception):
    """A judge or engine is absent here: the test is skipped and the reason is shown by `pytest -ra`."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = reason
        super().__init__(msg=f"{tool} unavailable: {reason}", allow_module_level=True)


class ToolRequired(RuntimeError):
    """A judge that CI promised to install is missing: fail loudly rather than skip silently."""


def required_here(tool: str) -> bool:
    """Whether this run promised the tool (CI sets SLM_DEPLOY_REQUIRE_TOOLS=all: every judge and engine)."""
    required = os.environ.get(STRICT_ENV, "").split()
    return tool in required or "all" in required


def unavailable(tool: str, reason: str) -> BaseException:
    """Skip where the tool is optional; fail where SLM_DEPLOY_REQUIRE_TOOLS names it (CI installs it)."""
    if required_here(tool):
        return ToolRequired(f"{tool} is required here ({STRICT_ENV}) but unavailable: {reason}")
    return ToolUnavailable(tool, reason)


def find_executable(name: str, install_hint: str) -> str:
    """Prefer the tool next to the running interpreter (the project venv), then PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise unavailable(name, f"not found on PATH; {install_hint}")
    return found


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a tool without a shell, capturing text output; the caller interprets the exit code."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def tail(text: str, lines: int = 60) -> str:
    """Keep error messages short enough to read while still showing the cause."""
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)
