"""The serving image reads what model preparation wrote: a runtime.image older than the llama.cpp build that converts,
or naming another ONNX Runtime GenAI version than the model builder's, is refused by validate and render (exit 2),
without echoing the tag."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slm_deploy.runtimes.model_preparation import llamacpp_build_number, locked_versions
from tests.support.cli import run_in_process

DIGEST = "sha256:" + "1" * 64
GGUF = {"name": "demo", "model": {"id": "qwen3-1.7b", "prepare": {"format": "gguf"}}, "secrets": {"api-keys": {}},
        "targets": {"compose": {}}}
ONNX = {"name": "demo", "model": {"id": "qwen3-1.7b", "prepare": {"format": "onnx"}}, "secrets": {"api-keys": {}},
        "targets": {"compose": {}}}


def write(tmp_path: Path, base: dict, runtime: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**base, "runtime": runtime}), encoding="utf-8")
    return path


BUILD = llamacpp_build_number()
GENAI = locked_versions("onnx")["onnxruntime-genai"]


@pytest.mark.parametrize("tag", ["server-b4000", "server-cuda-b4000", "mirror-copy", f"light-b{BUILD}",
                                 f"full-b{BUILD}", f"server-vulkan-b{BUILD}", f"server-cuda-b{BUILD}",
                                 f"server-b{BUILD}-patched", f"server-b0{BUILD}"])
def test_a_tag_other_than_a_llama_server_of_the_converter_build_or_newer_is_refused(tmp_path: Path, tag: str) -> None:
    image = f"registry.example.com/llama.cpp:{tag}@{DIGEST}"
    spec = write(tmp_path, GGUF, {"kind": "llamacpp", "image": image})
    for command in (("validate", str(spec)), ("render", str(spec), "--out", str(tmp_path / "out"))):
        result = run_in_process(*command)
        assert result.code == 2, result.stdout + result.stderr
        assert "runtime.image:" in result.stderr and f"b{llamacpp_build_number()} or newer" in result.stderr
        assert tag not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("offset", [0, 440])
def test_a_llama_server_of_the_converter_build_or_newer_serves(tmp_path: Path, offset: int) -> None:
    image = f"registry.example.com/llama.cpp:server-b{llamacpp_build_number() + offset}@{DIGEST}"
    result = run_in_process("validate", str(write(tmp_path, GGUF, {"kind": "llamacpp", "image": image})))
    assert result.code == 0, result.stderr


def test_the_pinned_gpu_server_is_no_older_than_the_converter(tmp_path: Path) -> None:
    spec = write(tmp_path, {**GGUF, "resources": {"gpu": {"count": 1, "type": "nvidia-l4"}}}, {"kind": "llamacpp"})
    result = run_in_process("validate", str(spec))
    assert result.code == 0, result.stderr


def test_a_cuda_llama_server_of_the_converter_build_serves_a_gpu_spec(tmp_path: Path) -> None:
    spec = write(tmp_path, {**GGUF, "resources": {"gpu": {"count": 1, "type": "nvidia-l4"}}},
                 {"kind": "llamacpp", "image": f"registry.example.com/llama.cpp:server-cuda-b{BUILD}@{DIGEST}"})
    result = run_in_process("validate", str(spec))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("tag", ["0.9.0", f"{GENAI}-cuda", f"0.9.0-for-{GENAI}", f"{GENAI}rc1", f"{GENAI}rc1-cpu",
                                 f"{GENAI}-cpu-debug", GENAI])
def test_an_onnx_server_of_another_genai_version_or_provider_is_refused(tmp_path: Path, tag: str) -> None:
    spec = write(tmp_path, ONNX, {"kind": "onnxruntime", "image": f"registry.example.com/ortgenai:{tag}@{DIGEST}"})
    result = run_in_process("validate", str(spec))
    assert result.code == 2, result.stdout + result.stderr
    assert "runtime.image:" in result.stderr and f"{GENAI}-cpu" in result.stderr
    told = (result.stdout + result.stderr).replace(f"{GENAI}-cpu", "").replace(f"({GENAI})", "")
    assert tag not in told


def test_an_onnx_server_of_the_builder_version_serves(tmp_path: Path) -> None:
    version = locked_versions("onnx")["onnxruntime-genai"]
    image = f"registry.example.com/ortgenai:{version}-cpu@{DIGEST}"
    result = run_in_process("validate", str(write(tmp_path, ONNX, {"kind": "onnxruntime", "image": image})))
    assert result.code == 0, result.stderr
