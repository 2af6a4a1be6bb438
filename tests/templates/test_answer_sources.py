"""Answers plain `cookiecutter` reads from a replay file or a config file are data, never code: the hooks cannot be
broken out of, and nothing is rendered or written before the template refuses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from slm_deploy.cli.new import _template_dir

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
