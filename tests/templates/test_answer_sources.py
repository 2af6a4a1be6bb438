"""Answers plain `cookiecutter` reads from a replay file or a config file are data, never code: the hooks cannot be
broken out of, and nothing is rendered or written before the template refuses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slm_deploy.cli.new import _template_dir
from tests.conftest import run_cli

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"


def _cookiecutter(tmp_path: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Plain cookiecutter, run with its own HOME (where it reads and writes replay files)."""
    return subprocess.run([COOKIECUTTER, "-o", tmp_path / "out", *arguments], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HOME": str(tmp_path / "home")})


def _replay_file(tmp_path: Path, **answers: str) -> Path:
    """The replay file cookiecutter writes for the default answers, with these answers swapped in."""
    baked = _cookiecutter(tmp_path, "--no-input", _template_dir())
    assert baked.returncode == 0, baked.stdout + baked.stderr
    written = tmp_path / "home" / ".cookiecutter_replay" / "project.json"
    replay = json.loads(written.read_text(encoding="utf-8"))
    replay["cookiecutter"].update(answers)
    written.unlink()
    for path in sorted((tmp_path / "out").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(replay), encoding="utf-8")
    return edited


def test_a_replayed_answer_cannot_break_out_of_the_pre_generation_hook(tmp_path: Path) -> None:
    """A quote in a choice answer once closed the hook's string literal and ran what followed."""
    marker = tmp_path / "ran"
    runtime = f'" + ("" if __import__("os").system("touch {marker}") else "") + "ollama'
    replay = _replay_file(tmp_path, runtime=runtime)
    refused = _cookiecutter(tmp_path, "--replay-file", replay, _template_dir())
    assert not marker.exists(), "the answer did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == "error: runtime: choose one of ollama, llamacpp, vllm, onnxruntime, foundry-local\n"
    assert list((tmp_path / "out").iterdir()) == [], "nothing is written"


@pytest.mark.parametrize("how", ["--config-file", "COOKIECUTTER_CONFIG"])
def test_a_config_file_answer_holding_template_syntax_is_refused_before_it_runs(how: str, tmp_path: Path) -> None:
    """cookiecutter renders a config file's default_context as it renders key=value answers: refused alike, by name,
    with exit 2, nothing run and nothing written."""
    marker = tmp_path / "ran"
    config = tmp_path / "config.yaml"
    config.write_text("default_context:\n"
                      f"  registry: '{{{{ cycler.__init__.__globals__.os.system(\"touch {marker}\") }}}}reg.corp.io'\n"
                      "  target: kubernetes\n"
                      "  another_templates_answer: '{{ left for the template that defines it }}'\n",
                      encoding="utf-8")
    arguments = ["--config-file", config] if how == "--config-file" else []
    refused = subprocess.run([COOKIECUTTER, "--no-input", "-o", tmp_path / "out", *arguments, _template_dir()],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(tmp_path / "home"), "COOKIECUTTER_CONFIG": str(config)})
    assert not marker.exists(), "the answer did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == ("error: registry: holds template syntax, which cookiecutter would run as code\n"
                              "  allowed: plain text without {{, {% or {#\n")
    assert refused.stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists(), "nothing is written"


@pytest.mark.parametrize("key", ["CANARY-7171", "runtme"])
def test_a_key_the_template_does_not_define_is_refused_by_position(key: str, tmp_path: Path) -> None:
    """A misspelt key would be ignored and its answer lost; the key is input, so it is named by position, as
    `slm-deploy new` names it."""
    refused = _cookiecutter(tmp_path, "--no-input", _template_dir(), "target=compose", f"{key}={{{{ 1 }}}}")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: <argument 2>: is not a template variable (expected key=value)\n"
                                     "  allowed: azure_tenant_id, bind_address, deployment_name, environments")
    assert key not in refused.stderr + refused.stdout
    assert not (tmp_path / "out").exists()
    by_new = run_cli("new", "--no-input", "-o", str(tmp_path / "out"), "target=compose", f"{key}={{{{ 1 }}}}")
    assert (by_new.code, by_new.stderr) == (2, refused.stderr), "one rule for both"
