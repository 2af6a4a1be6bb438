"""Where a scaffolded project installs slm-deploy from: a pinned direct reference, answered or derived from how the
generating slm-deploy was installed (PEP 610), never the bare name an index could serve to anyone who registers it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import CLI

COMMIT = "4b2d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def installed_as(tmp_path: Path, direct_url: dict[str, object] | None) -> dict[str, str]:
    """An environment whose first slm-deploy distribution metadata records this direct_url.json (None: an index
    install, which records none); the code still runs from this checkout."""
    site = tmp_path / "site"
    info = site / "slm_deploy-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slm-deploy\nVersion: 0.1.0\n", encoding="utf-8")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def new(tmp_path: Path, env: dict[str, str] | None, *answers: str) -> subprocess.CompletedProcess[str]:
    """`slm-deploy new --no-input` into tmp_path/out for a Compose project named box, run outside the checkout (whose
    slm_deploy.egg-info, on the path of `python -m`, would be found before the installed metadata)."""
    return subprocess.run([*CLI, "new", "--no-input", "-o", str(tmp_path / "out"), "project_name=box",
                           "environments=dev", *answers], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)


def requirement(tmp_path: Path) -> Requirement:
    """The slm-deploy line of the generated requirements.txt, as pip parses it."""
    lines = (tmp_path / "out/box/requirements.txt").read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if line.startswith("slm-deploy")]
    return Requirement(line)


@pytest.mark.parametrize(("direct_url", "source"), [
    ({"url": "https://github.com/assistants-platform/slm-deploy.git",
      "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "v0.1.0"}},
     f"git+https://github.com/assistants-platform/slm-deploy.git@{COMMIT}"),
    ({"url": "https://files.assistants-platform.dev/dist/slm_deploy-0.1.0-py3-none-any.whl",
      "archive_info": {"hashes": {"sha256": DIGEST}}},
     f"https://files.assistants-platform.dev/dist/slm_deploy-0.1.0-py3-none-any.whl#sha256={DIGEST}"),
    ({"url": "https://files.assistants-platform.dev/dist/slm_deploy-0.1.0.tar.gz",
      "archive_info": {"hash": f"sha256={DIGEST}"}},
     f"https://files.assistants-platform.dev/dist/slm_deploy-0.1.0.tar.gz#sha256={DIGEST}"),
], ids=["git", "wheel", "sdist-legacy-hash"])
def test_an_empty_answer_takes_where_the_generating_slm_deploy_was_installed_from(
        direct_url: dict[str, object], source: str, tmp_path: Path) -> None:
    made = new(tmp_path, installed_as(tmp_path, direct_url))
    assert made.returncode == 0, made.stderr
    assert (requirement(tmp_path).name, requirement(tmp_path).url) == ("slm-deploy", source)
    assert source in (tmp_path / "out/box/README.md").read_text(encoding="utf-8")
    assert source in (tmp_path / "out/box/.github/workflows/deployment.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("direct_url", [
    {"url": "file:///home/canary-dev/slm-deploy", "dir_info": {"editable": True}},
    {"url": "file:///home/canary-dev/slm-deploy", "dir_info": {}},
    {"url": "file:///home/canary-dev/slm_deploy-0.1.0-py3-none-any.whl", "archive_info": {}},
    None,
], ids=["editable", "local-folder", "local-wheel", "index"])
def test_an_installation_a_project_cannot_install_from_is_refused_naming_the_answer(
        direct_url: dict[str, object] | None, tmp_path: Path) -> None:
    refused = new(tmp_path, installed_as(tmp_path, direct_url))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: slm_deploy_source (where requirements.txt installs slm-deploy from")
    assert "set slm_deploy_source to git+https://<host>/<path>@<tag or 40-hex commit>" in refused.stderr
    assert "canary" not in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(("answer", "why"), [
    ("git+https://canary-user:ghp_canarytoken@github.com/assistants-platform/slm-deploy@v0.1.0", "user name or token"),
    ("git+https://ghp_canarytoken@github.com/assistants-platform/slm-deploy@v0.1.0", "user name or token"),
    ("https://files.canary-host.dev@github.com/slm_deploy-0.1.0-py3-none-any.whl", "user name or token"),
    ("http://files.canary-host.dev/slm_deploy-0.1.0-py3-none-any.whl", "not a pinned https direct reference"),
    ("git+ssh://git.canary-host.dev/team/slm-deploy@v0.1.0", "not a pinned https direct reference"),
    ("git+https://git.canary-host.dev/team/slm-deploy", "not a pinned https direct reference"),
    ("git+https://git.canary-host.dev/team/slm-deploy@v0.1.0;python_version>'3'", "not a pinned https direct"),
    ("https://files.canary-host.dev/slm_deploy-0.1.0-py3-none-any.whl#sha256=canary", "not a pinned https direct"),
    ("git+https://canary.example.com/team/slm-deploy@v0.1.0", "reserved for documentation"),
    ("https://192.0.2.7/canary/slm_deploy-0.1.0-py3-none-any.whl", "reserved for documentation"),
    ("git+https://canary.0xc0000205/team/slm-deploy@v0.1.0", "spells a host as a number"),
], ids=["user-and-token", "token", "userinfo-host", "http", "ssh", "no-ref", "marker", "bad-hash",
        "documentation-name", "documentation-address", "numeric-host"])
def test_an_answer_pip_must_not_be_pointed_at_is_refused_without_echoing_it(answer: str, why: str,
                                                                          tmp_path: Path) -> None:
    refused = new(tmp_path, None, f"slm_deploy_source={answer}")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: slm_deploy_source (where requirements.txt installs slm-deploy from")
    assert why in refused.stderr and "Traceback" not in refused.stderr
    assert "canary" not in (refused.stderr + refused.stdout).lower(), "the answer (maybe a token) is not echoed"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_an_answered_source_overrides_the_installation_and_keeps_the_extra(tmp_path: Path) -> None:
    source = "git+https://git.assistants-platform.dev/platform/slm-deploy@v0.1.0"
    made = new(tmp_path, installed_as(tmp_path, {"url": "file:///home/dev/slm-deploy", "dir_info": {}}),
               "target=aks", "registry=crassistants.azurecr.io", f"slm_deploy_source={source}")
    assert made.returncode == 0, made.stderr
    assert (requirement(tmp_path).name, requirement(tmp_path).extras, requirement(tmp_path).url) == (
        "slm-deploy", {"aks"}, source)
