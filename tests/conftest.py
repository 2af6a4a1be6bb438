"""Shared test configuration: the example stacks, golden-file regeneration, and the CLI runner."""

from __future__ import annotations

import compileall
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.fixtures", "tests.support.strict_ci", "tests.support.worker_groups"]

ROOT = Path(__file__).resolve().parents[1]
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
CLI = [sys.executable, "-m", "slm_deploy.cli"]


def stack_id(path: Path) -> str:
    """pytest id of an example stack: the part between Pulumi. and .yaml."""
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite tests/golden from the current renderers (review the diff before committing).")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package's bytecode once, before the suite starts the CLI as a subprocess thousands of times:
    with PYTHONDONTWRITEBYTECODE set (as on CI machines), each of those would compile every module it imports."""
    if not hasattr(session.config, "workerinput"):  # the xdist controller, or a run without xdist
        import slm_deploy

        # not templates/: what is there is copied into scaffolded projects as it is
        package = Path(slm_deploy.__file__).parent
        compileall.compile_dir(package, quiet=2, rx=re.compile(re.escape(str(package / "templates"))))


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """Run the real console entry point in a subprocess, as a user would."""
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
