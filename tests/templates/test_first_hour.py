"""The first hour of a scaffolded project, from its generated files: the CI's policy pack runs in a virtualenv that
holds its requirements, the stack secrets Pulumi needs are documented and checked before a preview, the
dependency follows the generating release, and Compose environments on one host do not collide."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

from tests.policies.test_pack_standalone import read_port
from tests.templates.bake import bake

pytestmark = pytest.mark.xdist_group("template-bake")

FIRST_HOUR = {
    "kubernetes": {"runtime": "llamacpp", "target": "kubernetes"},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("first-hour")
    return {name: bake(root, name, answers) for name, answers in FIRST_HOUR.items()}


def preview_steps(project: Path) -> list[dict]:
    workflow = yaml.safe_load((project / ".github/workflows/deployment.yml").read_text())
    return workflow["jobs"]["preview"]["steps"]


def run_step(step: dict, project: Path, runner_temp: Path, **env: str) -> subprocess.CompletedProcess:
    """A `run:` step under bash, as the runner runs it, with the step's own env and the runner's files."""
    outputs = runner_temp / "github-output"
    outputs.touch()
    environment = {**os.environ, **step.get("env", {}), "RUNNER_TEMP": str(runner_temp),
                   "GITHUB_OUTPUT": str(outputs), **env}
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120)


def program_virtualenv(project: Path) -> Path:
    """The project's .venv as the CI's install step leaves it: slm-deploy importable (here, this checkout's)."""
    home = project / ".venv"
    venv.create(home, with_pip=False)
    (site,) = home.glob("lib/python*/site-packages")
    (site / "slm-deploy-under-test.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return home


def test_ci_policy_pack_runs_in_a_virtualenv_holding_its_requirements(projects: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """The preview's pack folder names a virtualenv in PulumiPolicy.yaml, the step makes it, and the Pulumi policy
    host started from it (as the CLI starts a Python pack) loads the rules."""
    project = projects["kubernetes"]
    program_virtualenv(project)
    (step,) = [step for step in preview_steps(project) if step.get("id") == "pack"]
    result = run_step(step, project, tmp_path)
    assert result.returncode == 0, result.stderr
    pack = Path(dict(line.split("=", 1) for line in (tmp_path / "github-output").read_text().splitlines())["path"])
    runtime = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"]
    assert runtime["name"] == "python"
    python = pack / runtime["options"]["virtualenv"] / "bin" / "python"
    process = subprocess.Popen([str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=pack,
                               env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    try:
        assert read_port(process) > 0
    finally:
        process.kill()
        process.communicate(timeout=30)
