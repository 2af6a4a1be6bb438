"""Ollama tags validate exactly when the pinned Ollama's name parser (types/model/name.go at v0.24.0) would pull them
from the Ollama library or the Hugging Face Hub, so a spec never renders a download that cannot succeed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from slm_deploy.spec.ollama_names import OllamaName, registry_of
from tests.support.cli import run_in_process

NAME = TypeAdapter(OllamaName)
PULLABLE = [
    "qwen3:1.7b", "llama3.2:1b", "library/qwen3:0.6b", "QWEN3:Q4_K_M", "_model:_tag", "my-org/my_model:v1.0",
    "hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M", "huggingface.co/unsloth/Llama-3.2-1B-Instruct-GGUF:Q8_0",
    "m" * 80 + ":" + "t" * 80,
]
REFUSED = {
    "namespace with a dot (Ollama reads hf.co as a library namespace)": "hf.co/qwen3-gguf:q4",
    "another host read as a namespace": "evil.example.com/model:latest",
    "another registry": "evil.example.com/ns/model:latest",
    "four steps": "evil.example.com/a/ns/model:latest",
    "scheme prefix": "https://hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M",
    "no tag": "qwen3",
    "empty tag": "qwen3:",
    "empty model": ":1b",
    "tag before the last step": "qwen3:1b/x",
    "colon inside the model": "qwen3:1b:q4",
    "model starting with -": "-qwen3:1b",
    "tag starting with .": "qwen3:.1b",
    "empty namespace": "/qwen3:1b",
    "model longer than 80": "m" * 81 + ":1b",
    "tag longer than 80": "qwen3:" + "t" * 81,
    "namespace longer than 80": "n" * 81 + "/qwen3:1b",
}


@pytest.mark.parametrize("name", PULLABLE)
def test_names_the_pinned_parser_accepts_validate(name: str) -> None:
    assert NAME.validate_python(name) == name


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_names_the_pinned_parser_refuses_or_reads_as_another_registry_are_refused(case: str) -> None:
    with pytest.raises(ValidationError):
        NAME.validate_python(REFUSED[case])


@pytest.mark.parametrize(("name", "registry"), [
    ("qwen3:1.7b", None), ("library/qwen3:1.7b", None), ("hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M", "hf.co"),
])
def test_the_registry_is_the_host_step_ollama_reads(name: str, registry: str | None) -> None:
    assert registry_of(name) == registry


def test_a_foreign_registry_is_one_clear_error_that_does_not_echo_the_host(tmp_path: Path) -> None:
    spec = {"name": "demo", "model": {"source": {"kind": "ollama", "tag": "evil.example.com/ns/model:latest"},
                                      "parameters_billion": 1.7},
            "runtime": {"kind": "ollama"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "model.source.tag" in result.stderr and "registry other than" in result.stderr
    assert "hf.co/<user>/<repo>:<tag>" in result.stderr and "example" not in result.stderr
    assert not (tmp_path / "bundle").exists()
