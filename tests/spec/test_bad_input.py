"""Every class of bad input gets one clear message naming the field, exit code 2, no traceback, no output."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli

REVISION = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "a" * 64
BASE: dict[str, Any] = {
    "name": "demo",
    "model": {
        "source": {"kind": "gguf", "repo": "Qwen/Qwen3-1.7B-GGUF", "file": "Qwen3-1.7B-Q4_K_M.gguf",
                   "revision": REVISION},
        "parameters_billion": 1.7,
        "native_context": 32768,
    },
    "runtime": {"kind": "llamacpp"},
    "secrets": {"api-keys": {}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return spec


CASES = {
    "unknown top-level key": (_with("servng", {}), "servng", "did you mean 'serving'"),
    "unknown nested key with suggestion": (_with("serving.replcas", 2), "serving.replcas", "did you mean 'replicas'"),
    "wrong type": (_with("serving.replicas", "two"), "serving.replicas", "valid integer"),
    "unknown runtime": (_with("runtime", {"kind": "vllmm"}), "runtime.kind", "did you mean 'vllm'"),
    "name not DNS-1123": (_with("name", "My_Model"), "name", "DNS-1123"),
    "name too long": (_with("name", "a" * 41), "name", "at most 40"),
    "newline in name": (_with("name", "demo\nrm"), "name", "DNS-1123"),
    "template in arg": (_with("runtime.extra_args", ["--x={{ evil }}"]), "runtime.extra_args[0]", "no spaces, quotes"),
    "command substitution in arg": (_with("runtime.extra_args", ["$(reboot)"]), "runtime.extra_args[0]",
                                    "no spaces, quotes"),
    "quote in env value": (_with("runtime.env", {"LOG_FORMAT": 'a"b'}), "runtime.env.LOG_FORMAT", "no quotes"),
    "newline in env value": (_with("runtime.env", {"LOG_FORMAT": "a\nb"}), "runtime.env.LOG_FORMAT", "no quotes"),
    "lower-case env name": (_with("runtime.env", {"log format": "x"}), "runtime.env", "upper-case"),
    "secret-looking env name": (_with("runtime.env", {"HF_TOKEN": "x"}), "runtime.env.HF_TOKEN", "secret"),
    "template in system prompt": (
        _with("runtime", {"kind": "ollama", "modelfile": {"system_prompt": "hi {{ x }}"}}),
        "runtime.modelfile.system_prompt", "template or shell"),
    "image tag latest": (_with("runtime.image", f"ghcr.io/ggml-org/llama.cpp:latest@{DIGEST}"), "runtime.image",
                         "latest"),
    "image without digest": (_with("runtime.image", "ghcr.io/ggml-org/llama.cpp:server-b1"), "runtime.image",
                             "pinned by digest"),
    "revision is a branch": (_with("model.source.revision", "main"), "model.source.revision", "commit sha"),
    "huggingface source without revision": (
        {**_with("runtime", {"kind": "vllm"}), "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B"}, "parameters_billion": 8.2}},
        "model.source.revision", "required"),
    "source of another runtime": (_with("model.source", {"kind": "ollama", "tag": "qwen3:1.7b"}),
                                  "model.source.kind", "cannot load"),
    "quantisation the runtime cannot serve": (_with("model.quantisation", "awq"), "model.quantisation",
                                              "cannot serve"),
    "cannot fit memory": (_with("resources.memory", "1Gi"), "resources.memory", "short by"),
    "cannot fit GPU": (
        {**_with("runtime", {"kind": "vllm"}),
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B", "revision": REVISION},
                   "parameters_billion": 8.2, "native_context": 32768, "context_length": 32768},
         "resources": {"gpu": {"count": 1, "type": "nvidia-t4"}}},
        "resources.gpu", "short by"),
    "vllm without GPU": (
        {**_with("runtime", {"kind": "vllm"}),
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B", "revision": REVISION},
                   "parameters_billion": 8.2}},
        "resources.gpu", "needs an NVIDIA GPU"),
    "undeclared secret": (_with("secrets", {}), "serving.auth.api_keys_secret", "does not declare"),
    "reserved namespace": (_with("targets", {"kubernetes": {"namespace": "default"}}),
                           "targets.kubernetes.namespace", "shared by the cluster"),
    "context above native": (_with("model.context_length", 65536), "model.context_length", "exceeds"),
    "ingress without host": (_with("exposure", {"mode": "ingress"}), "exposure.host", "required"),
    "not a mapping": (["name", "demo"], "<spec>", "expected a mapping"),
    "gated model without a hub token": (
        {**_with("runtime", {"kind": "vllm"}), "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
         "model": {"id": "llama-3.2-3b-instruct"}},
        "model.hub_token_secret", "gated"),
    "unknown catalogue model": ({**BASE, "model": {"id": "qwen3-1.7"}}, "model.id", "did you mean 'qwen3-1.7b'"),
}


def _write(tmp_path: Path, spec: Any) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_error(case: str, tmp_path: Path) -> None:
    spec, field, words = CASES[case]
    out = tmp_path / "bundle"
    result = run_cli("render", str(_write(tmp_path, spec)), "--out", str(out))
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert field in result.stderr
    assert words in result.stderr
    assert not out.exists()


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nmodel:\n  id: [unclosed\n", encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert "malformed YAML" in result.stderr and "spec.yaml:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "absent.yaml"))
    assert result.code == 2 and "Traceback" not in result.stderr


def test_error_shows_the_kind_of_value_not_the_value(tmp_path: Path) -> None:
    secret_like = "hf_abcdefghijklmnopqrstuvwxyz0123456789"
    result = run_cli("validate", str(_write(tmp_path, _with("serving.port", secret_like))))
    assert result.code == 2
    assert secret_like not in result.stderr
    assert "got a string" in result.stderr


def test_fit_error_says_what_to_change(tmp_path: Path) -> None:
    result = run_cli("validate", str(_write(tmp_path, _with("resources.memory", "1Gi"))))
    assert "raise resources.memory" in result.stderr and "allowed: at least" in result.stderr
