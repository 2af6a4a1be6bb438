"""`slm-deploy build --build-arg NAME=VALUE` reaches the Docker builds whose Dockerfiles declare NAME with ARG (the
air-gapped mirrors the README offers); names no Dockerfile declares, or malformed pairs, are refused with exit 2
before anything is built, and the value is never printed."""

from __future__ import annotations

import copy
import stat
from pathlib import Path

import pytest

from slm_deploy.build_arguments import declared_build_args
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import parse_deployment
from tests.conftest import run_cli
from tests.runtimes.test_model_preparation import SPEC

MIRROR = "https://mirror.example.internal/simple"
SECRET_LOOKING = "ghp_notatokenbutlookslikeone0123456789"


@pytest.fixture
def docker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in docker client that records each build's arguments, one per line, ending each build with '--'."""
    log, client = tmp_path / "docker.log", tmp_path / "docker"
    client.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> {log}\necho -- >> {log}\n')
    client.chmod(client.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SLM_DEPLOY_DOCKER", str(client))
    return log


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A prepared-GGUF bundle: the preparation image declares the mirrors, the serving images declare none."""
    out = tmp_path / "bundle"
    write_bundle(render_bundle(parse_deployment(copy.deepcopy(SPEC))), out)
    return out


def builds(log: Path) -> dict[str, list[str]]:
    """Build context folder name -> the arguments its `docker build` got."""
    runs = [run.strip().splitlines() for run in log.read_text().split("--\n") if run.strip()]
    return {Path(argv[-1]).name: argv for argv in runs}


def test_build_arguments_reach_only_the_builds_that_declare_them(bundle: Path, docker_log: Path) -> None:
    declaring = {p.parent.name for p in (bundle / "docker").glob("*/Dockerfile")
                 if "PACKAGE_INDEX" in declared_build_args(p.read_text())}
    assert declaring
    result = run_cli("build", str(bundle), "--build-arg", f"PACKAGE_INDEX={MIRROR}",
                     "--build-arg", "TORCH_FIND_LINKS=")
    assert result.code == 0, result.stdout + result.stderr
    seen = builds(docker_log)
    assert set(seen) == {p.parent.name for p in (bundle / "docker").glob("*/Dockerfile")} and len(seen) > len(declaring)
    for context, argv in seen.items():
        passed = [argv[i + 1] for i, a in enumerate(argv) if a == "--build-arg"]
        assert passed == (["PACKAGE_INDEX=" + MIRROR, "TORCH_FIND_LINKS="] if context in declaring else []), context


@pytest.mark.parametrize(("argument", "says"), [
    (f"HTTPS_PROXY={SECRET_LOOKING}", "no Dockerfile of the bundle declares"),
    (f"{SECRET_LOOKING}", "not of the form NAME=VALUE"),
    (f"PACKAGE-INDEX={SECRET_LOOKING}", "not of the form NAME=VALUE"),
])
def test_undeclared_or_malformed_build_arguments_are_refused_before_any_build(
        bundle: Path, docker_log: Path, argument: str, says: str) -> None:
    result = run_cli("build", str(bundle), "--build-arg", argument)
    assert result.code == 2 and says in result.stderr and "PACKAGE_INDEX" in result.stderr
    assert SECRET_LOOKING not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not docker_log.exists()


def test_declared_names_are_read_from_every_arg_form() -> None:
    dockerfile = "ARG BASE=x\nFROM scratch\n  arg A B=2\nRUN echo ARG NOT_DECLARED\n# ARG COMMENTED\n"
    assert declared_build_args(dockerfile) == {"BASE", "A", "B"}
