"""The policy pack outside this repository: the wheel and the pack's requirements in a fresh virtualenv, the pack
started the way the Pulumi CLI starts a Python policy pack, and its analyzer asked over gRPC for its policies."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tomllib
import venv
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from packaging.requirements import Requirement
from pulumi.runtime.proto import analyzer_pb2_grpc

from slm_deploy import __version__
from slm_deploy.policies import all_rules
from slm_deploy.policies.crossguard import PACK_NAME
from tests.conftest import ROOT
from tests.support.cache import cache_root, exclusive
from tests.support.wheel import wheel_build_lock

PACK = ROOT / "policies"
INSTALL_TIMEOUT = 900
START_TIMEOUT = 120
COMPLETE = ".slm-deploy-complete"


def pack_requirement_lines() -> list[str]:
    lines = (PACK / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_name_the_wheel_shipped_in_the_pack_at_the_packs_version() -> None:
    lines = pack_requirement_lines()
    assert not [line for line in lines if line.startswith("-")]  # no editable checkout, no extra index
    assert f"./slm_deploy-{__version__}-py3-none-any.whl" in lines  # never a name a package index resolves
    requirements = {r.name: r for r in (Requirement(line) for line in lines if not line.startswith("./"))}
    assert "slm-deploy" not in requirements
    assert yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["version"] == __version__
    assert requirements["pulumi-policy"].specifier


def dependency_key() -> str:
    """Changes exactly when what the virtualenv must hold changes: the package's dependencies, the pack's
    requirements, the interpreter."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    text = json.dumps([sys.version, sorted(dependencies), (PACK / "requirements.txt").read_text()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pip(python: Path, *args: str, cwd: Path) -> None:
    result = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
                            capture_output=True, text=True, timeout=INSTALL_TIMEOUT, cwd=cwd, env=isolated_env())
    assert result.returncode == 0, f"pip {args[0]}: {result.stdout[-2000:]}{result.stderr[-3000:]}"


def make_policy_pack(pack: Path) -> Path:
    """`make policy-pack` into `pack`, as a maintainer builds the folder they publish; returns the wheel in it."""
    with exclusive(wheel_build_lock()):  # setuptools stages in the source tree: one build at a time
        done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "policy-pack", f"PACK_DIR={pack}",
                               f"BIN={Path(sys.executable).parent}"], capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, f"make policy-pack: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    (wheel,) = pack.glob("slm_deploy-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed_pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(virtualenv python, pack folder): the pack folder `make policy-pack` builds outside the repository, its
    requirements (the wheel beside them, everything else from the package index) installed from inside it into a
    virtualenv outside the repository. The virtualenv is made fresh once per dependency set and cached; later runs
    replace only slm-deploy with the new wheel and `pip check` that every requirement still holds."""
    pack = tmp_path_factory.mktemp("standalone-pack") / "pack"
    wheel = make_policy_pack(pack)
    assert sorted(p.name for p in pack.iterdir()) == sorted(
        ["PulumiPolicy.yaml", "README.md", "__main__.py", "requirements.txt", wheel.name])
    home = cache_root() / f"pack-venv-{dependency_key()}"
    python = home / "bin" / "python"
    with exclusive(home.name):  # held while the tests use it: another run must not swap the wheel meanwhile
        if not (home / COMPLETE).is_file():
            shutil.rmtree(home, ignore_errors=True)
            venv.create(home, with_pip=True)
            pip(python, "install", "-r", "requirements.txt", cwd=pack)  # as pip runs in the pack folder
            (home / COMPLETE).touch()
        else:
            pip(python, "install", "--no-deps", "--force-reinstall", wheel.name, cwd=pack)
        pip(python, "check", cwd=pack)
        yield python, pack


def isolated_env() -> dict[str, str]:
    """The environment without anything that would let the repository's own packages leak in."""
    return {key: value for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not key.startswith("PULUMI_")}


def test_the_pack_imports_slm_deploy_from_the_installed_wheel(installed_pack: tuple[Path, Path]) -> None:
    python, pack = installed_pack
    where = subprocess.run([str(python), "-c", "import slm_deploy.policies.crossguard as c; print(c.__file__)"],
                           capture_output=True, text=True, cwd=pack, env=isolated_env(), check=True)
    assert Path(where.stdout.strip()).is_relative_to(python.parent.parent), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)


def read_port(process: subprocess.Popen) -> int:
    """The analyzer prints the port it serves on as its first line of output."""
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        process.kill()
        _, stderr = process.communicate(timeout=30)
        pytest.fail(f"the pack did not start: {line!r}\n{stderr.decode(errors='replace')[-3000:]}")
    return int(line)


def test_the_pulumi_policy_host_loads_every_rule(installed_pack: tuple[Path, Path]) -> None:
    python, pack = installed_pack
    # what the Pulumi CLI runs for a Python policy pack: python -m pulumi.policy <engine address> <pack folder>
    process = subprocess.Popen([str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=pack, env=isolated_env())
    try:
        port = read_port(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert info.name == PACK_NAME
    registered = {policy.name for policy in info.policies}
    expected = {rule.id for rule in all_rules() if rule.crossguard}
    assert registered == expected
    assert len(registered) > 50
