"""`slm-deploy new`: every template choice scaffolds a project whose spec validates and renders."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import CLI, run_cli
from tests.templates.bake import REGISTRY, SOURCE_ANSWER

CHOICES = [
    ("ollama", "qwen3-1.7b", "compose"),
    ("llamacpp", "qwen3-1.7b", "compose"),
    ("onnxruntime", "phi-4-mini-instruct", "compose"),
    ("vllm", "phi-4-mini-instruct", "kubernetes"),
    ("foundry-local", "phi-4-mini-instruct", "host"),
    ("ollama", "llama-3.2-3b-instruct", "kubernetes"),
]


@pytest.mark.parametrize(("runtime", "model", "target"), CHOICES)
def test_scaffolded_project_validates_and_renders(runtime: str, model: str, target: str, tmp_path: Path) -> None:
    gpu = ["gpu_type=nvidia-l4"] if runtime == "vllm" else []
    gpu += [f"registry={REGISTRY}"] if target == "kubernetes" else []
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), f"runtime={runtime}", f"model={model}",
                     f"target={target}", "deployment_name=svc", *gpu)
    assert result.code == 0, result.stderr
    project = tmp_path / "svc"
    stacks = ["Pulumi.dev.yaml"] if target == "host" else ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]  # hosts: one
    assert sorted(p.name for p in project.iterdir()) == [
        ".github", ".gitignore", ".pre-commit-config.yaml", ".vscode", *stacks,
        "Pulumi.yaml", "README.md", "__main__.py", "requirements.txt", "slm-deploy.schema.json", "tests"]
    deployment = load_deployment(project / "Pulumi.dev.yaml")
    assert (deployment.spec.runtime.kind, deployment.model.id) == (runtime, model)
    files = render_bundle(deployment).files
    assert any(name.startswith({"compose": "compose/", "host": "hosts/"}.get(target, "kubernetes/")) for name in files)
    assert [p.name for p in tmp_path.iterdir()] == ["svc"], "no staging directory is left behind"


def test_unknown_variable_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", "-o", str(tmp_path), "gpus=2", SOURCE_ANSWER)
    assert result.code == 2 and "<argument 1>" in result.stderr and "allowed:" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_choice_outside_the_template_is_refused(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "runtime=tgi")
    assert result.code == 2 and "runtime" in result.stderr and "ollama" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_invalid_derived_name_says_how_to_fix_it(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=Team #1!")
    assert result.code == 2 and "set deployment_name=" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_project_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "mine.txt").write_text("keep")
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "deployment_name=svc")
    assert result.code == 2 and "already exists" in result.stderr
    assert (tmp_path / "svc" / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc"]


@pytest.mark.parametrize(("answer", "field"), [
    ("deployment_name=../../../../tmp/slm-new-escape", "deployment_name"),
    ("stack=a/b", "<argument 1>"),
    ("project_name=../../x", "deployment_name"),
    ("project_name=Team\nconfig: evil", "project_name"),
    ("registry=-", "registry"),
    ("registry=r.example.com:99999", "registry"),
    ("registry=quay.io:443", "registry"),
    ("registry=docker.io/library", "registry"),
])
def test_bad_answers_are_refused_before_anything_is_written(answer: str, field: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("new", "--no-input", "-o", str(out), answer, SOURCE_ANSWER)
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{field}: " in result.stderr and "allowed:" in result.stderr
    value = answer.split("=", 1)[1]
    assert len(value) < 3 or value not in result.stderr, "the answer is never echoed"
    assert not out.exists() or list(out.iterdir()) == []
    assert not Path("/tmp/slm-new-escape").exists()


def test_unknown_variable_is_named_by_position(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", "-o", str(tmp_path), "TOKEN-CANARY=1", SOURCE_ANSWER)
    assert result.code == 2 and "<argument 1>" in result.stderr and "CANARY" not in result.stderr


@pytest.mark.parametrize("answer", [
    "environments={{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}dev",
    "secrets_expire_on={% if true %}2030-01-01{% endif %}",
    "ingress_host={{ 7*7 }}.example.com",
    "project_name=x{# CANARY",
    "environments={{ CANARY",
])
def test_answers_holding_template_syntax_are_refused_before_cookiecutter_runs_them(answer: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    out = tmp_path / "out"
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(out), answer.replace("MARKER", str(marker)),
                     "target=kubernetes", "exposure=ingress")
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr and "template syntax" in result.stderr
    assert "CANARY" not in result.stderr + result.stdout and "cycler" not in result.stderr
    assert not marker.exists()
    assert not out.exists() or list(out.iterdir()) == []


def test_prompts_without_a_terminal_exit_2_saying_what_to_do(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "new", "-o", str(tmp_path)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "error: standard input ended before every prompt was answered" in proc.stderr
    assert "--no-input" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_json_reports_the_project_or_the_hook_reasons(tmp_path: Path) -> None:
    made = run_cli("new", "--no-input", SOURCE_ANSWER, "--json", "-o", str(tmp_path), "deployment_name=svc")
    assert made.code == 0, made.stderr
    assert json.loads(made.stdout) == {"created": str(tmp_path / "svc"),
                                       "stacks": ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]}
    refused = run_cli("new", "--no-input", SOURCE_ANSWER, "--json", "-o", str(tmp_path / "x"), "runtime=vllm", "target=compose")
    assert refused.code == 2
    (problem,) = json.loads(refused.stdout)["error"]["problems"]
    assert problem["path"] == "answers" and problem["message"].startswith("runtime=vllm needs a GPU")
    assert "error: runtime=vllm needs a GPU" in refused.stderr, "stderr still shows the reason"
    detailed = run_cli("new", "--no-input", SOURCE_ANSWER, "--json", "-o", str(tmp_path / "y"), "runtime=onnxruntime",
                       "model=qwen3-8b")
    (problem,) = json.loads(detailed.stdout)["error"]["problems"]
    assert "phi-4-mini-instruct" in problem["allowed"] and problem["hint"].startswith("change the model answer")


def test_a_refusal_takes_back_the_output_folders_it_made(tmp_path: Path) -> None:
    """The hook refuses a cluster target without a registry: the -o folders made for the project go too."""
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "made" / "for-it"), "target=kubernetes")
    assert result.code == 2 and "registry" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def _new_at_home(tmp_path: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """`slm-deploy new --no-input` with its own HOME (where cookiecutter keeps replay files) and temporary folder."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([*CLI, "new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "out"), *answers], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")})


def test_a_refused_project_leaves_its_answers_nowhere(tmp_path: Path) -> None:
    """Neither cookiecutter's replay file nor the rendered hook (each holds every answer) outlives a refusal; a
    project written keeps its replay file where `--replay-file` can read it back."""
    refused = _new_at_home(tmp_path, "runtime=vllm", "target=compose", "registry=canary-4411.azurecr.io")
    assert refused.returncode == 2, refused.stderr
    assert not (tmp_path / "home").exists() and list((tmp_path / "tmp").iterdir()) == []
    made = _new_at_home(tmp_path, "runtime=llamacpp", "target=compose")
    assert made.returncode == 0, made.stderr
    replay = json.loads((tmp_path / "home" / ".cookiecutter_replay" / "project.json").read_text(encoding="utf-8"))
    assert replay["cookiecutter"]["runtime"] == "llamacpp"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_dangling_link_where_the_project_goes_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "team-assistant").symlink_to(tmp_path / "nowhere")
    refused = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "out"))
    assert refused.code == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: deployment_name: names a folder that already exists in --output-dir")
    assert "team-assistant" not in refused.stderr, "the answer is not printed back"
