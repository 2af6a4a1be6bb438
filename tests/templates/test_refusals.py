"""Impossible answers are refused by the template's pre-generation hook with a clear message, and nothing is
written; a spec slm-deploy rejects is refused by the post-generation hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

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


def test_post_generation_hook_refuses_what_slm_deploy_rejects(tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    """A Kubernetes namespace `<name>-<environment>` longer than a DNS label: only slm-deploy's validation knows."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"target": "kubernetes", "deployment_name": "a" * 36, "environments": "production"})
    err = capfd.readouterr().err
    assert "Pulumi.production.yaml" in err and "targets.kubernetes.namespace" in err
    assert list(tmp_path.iterdir()) == [], "the half-made project is removed"


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
