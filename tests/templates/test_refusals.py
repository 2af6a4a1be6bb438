"""Impossible answers are refused by the template's pre-generation hook with a clear message, and nothing is
written; a spec slm-deploy rejects is refused by the same hook, validated in memory before any file lands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from slm_deploy.cli.new import _template_dir
from tests.conftest import run_cli
from tests.templates.bake import bake

REFUSED = [
    ({"runtime": "foundry-local", "target": "compose"}, "runtime=foundry-local installs on a host"),
    ({"runtime": "ollama", "target": "host"}, "target=host is for runtime=foundry-local"),
    ({"runtime": "vllm", "target": "kubernetes"}, "runtime=vllm needs a GPU"),
    ({"runtime": "foundry-local", "target": "host", "gpu_type": "nvidia-l4"}, "leave gpu_type=none"),
    ({"target": "compose", "exposure": "ingress"}, "exposure=ingress needs a cluster"),
    ({"target": "kubernetes", "monitoring": "managed"}, "monitoring=managed is Azure Managed Prometheus"),
    ({"target": "compose", "monitoring": "existing"}, "monitoring=existing means a Prometheus operator"),
    ({"target": "compose", "secret_store": "kubernetes"}, "secret_store=kubernetes mounts secrets into pods"),
    ({"target": "kubernetes", "secret_store": "azure-key-vault"}, "secret_store=azure-key-vault is wired"),
    ({"target": "aks", "secret_store": "file"}, "secret_store=file is for Compose"),
    ({"environments": "dev,Prod"}, "environments: each must be lower-case"),
    ({"environments": "dev,dev"}, "environments: each name once"),
    ({"environments": " , "}, "environments: name at least one"),
    ({"deployment_name": "Team #1"}, "set deployment_name="),
    ({"project_name": "Team\nconfig: {}", "deployment_name": "team"}, "project_name: one line of printable text"),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_pre_generation_hook_refuses(answers: dict[str, str], message: str, tmp_path: Path,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", answers)
    err = capfd.readouterr().err
    assert err.startswith("error: ") and message in err
    assert list(tmp_path.iterdir()) == [], "nothing is written"


def test_every_clash_is_reported_at_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"runtime": "vllm", "target": "compose", "exposure": "ingress"})
    assert capfd.readouterr().err.count("error: ") == 2


def test_pre_generation_hook_refuses_what_slm_deploy_rejects(tmp_path: Path,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    """A Kubernetes namespace `<name>-<environment>` longer than a DNS label: only slm-deploy's validation knows."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"target": "kubernetes", "deployment_name": "a" * 36, "environments": "production"})
    err = capfd.readouterr().err
    assert err.count("error: ") == 1
    assert "error: Pulumi.production.yaml: targets.kubernetes.namespace" in err
    assert list(tmp_path.iterdir()) == [], "the stacks were validated before cookiecutter wrote anything"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_plain_cookiecutter_overwriting_a_project_leaves_it_untouched_when_a_stack_is_refused(tmp_path: Path) -> None:
    """`cookiecutter -f` keeps the folder when a hook fails: the refusal must come before the first file."""
    cookiecutter = Path(sys.executable).parent / "cookiecutter"
    answers = ["target=kubernetes", "deployment_name=" + "a" * 36]
    made = subprocess.run([cookiecutter, "--no-input", "-o", tmp_path, _template_dir(), *answers,
                           "environments=dev"], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    before = _snapshot(tmp_path)
    refused = subprocess.run([cookiecutter, "--no-input", "-f", "-o", tmp_path, _template_dir(), *answers,
                              "environments=production"], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert refused.stderr.count("error: ") == 1 and "targets.kubernetes.namespace" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _snapshot(tmp_path) == before, "no file of the existing project was rewritten"


def test_new_refuses_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", "-o", str(tmp_path), "runtime=vllm", "target=compose")
    assert result.code == 2
    assert "error: runtime=vllm needs a GPU: choose a gpu_type" in result.stderr
    assert "the template refused these answers" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_free_text_answers_cannot_inject_yaml(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A registry answer carrying a newline and a key stays one (invalid) string; it never adds a target."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"registry": "registry.example.com\n      kubernetes: {}"})
    err = capfd.readouterr().err
    assert "targets.docker.registry: is not in the allowed form" in err and "kubernetes: {}" not in err
    assert list(tmp_path.iterdir()) == []
