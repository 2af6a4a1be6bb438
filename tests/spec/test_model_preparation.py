"""model.prepare: a Hugging Face checkpoint converted for llama.cpp or ONNX Runtime, every impossible pairing refused
by the field that makes it impossible, and sizing counting the prepared weights."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.errors import SpecError
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.model_section import Quantisation
from tests.support.cli import run_in_process

REVISION = "0123456789abcdef0123456789abcdef01234567"
HF_SOURCE = {"kind": "huggingface", "repo": "acme/tiny-chat", "revision": REVISION}


def spec(runtime: dict[str, Any], prepare: dict[str, Any], **model: Any) -> dict[str, Any]:
    """A Compose deployment of an explicit Hugging Face checkpoint with the given preparation (on a GPU where the
    runtime needs one)."""
    data = {"name": "demo", "runtime": runtime, "secrets": {"api-keys": {}},
            "model": {"source": copy.deepcopy(HF_SOURCE), "parameters_billion": 1.0, "native_context": 4096,
                      "prepare": prepare, **model}}
    if runtime["kind"] == "vllm" or runtime.get("execution_provider") == "cuda":
        data["resources"] = {"gpu": {"count": 1}}
    return data


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as refused:
        parse_deployment(data)
    return [(p.path, p.allowed) for p in refused.value.problems]


@pytest.mark.parametrize(("prepare", "runtime", "quantisation"), [
    ({"format": "gguf"}, {"kind": "llamacpp"}, Quantisation.Q4_K_M),
    ({"format": "gguf", "quantization": "q8_0"}, {"kind": "llamacpp"}, Quantisation.Q8_0),
    ({"format": "gguf", "quantization": "f16"}, {"kind": "llamacpp"}, Quantisation.F16),
    ({"format": "onnx"}, {"kind": "onnxruntime"}, Quantisation.INT4),
    ({"format": "onnx", "precision": "fp32"}, {"kind": "onnxruntime"}, Quantisation.F32),
    ({"format": "onnx", "precision": "fp16", "execution_provider": "cuda"},
     {"kind": "onnxruntime", "execution_provider": "cuda"}, Quantisation.F16),
])
def test_the_prepared_format_sets_the_weight_format(prepare: dict[str, Any], runtime: dict[str, Any],
                                                    quantisation: Quantisation) -> None:
    deployment = parse_deployment(spec(runtime, prepare))
    assert deployment.model.quantisation is quantisation
    assert deployment.model.prepare is not None and deployment.model.prepare.format == prepare["format"]


def test_sizing_counts_the_prepared_size() -> None:
    weights = {q: parse_deployment(spec({"kind": "llamacpp"}, {"format": "gguf", "quantization": q})).sizing.weights_bytes
               for q in ("q4_k_m", "q8_0", "f16")}
    assert weights["q4_k_m"] < weights["q8_0"] < weights["f16"]
    fp32 = parse_deployment(spec({"kind": "onnxruntime"}, {"format": "onnx", "precision": "fp32"})).sizing.weights_bytes
    assert fp32 == 2 * weights["f16"]


def test_a_catalogue_model_is_prepared_from_its_pinned_checkpoint() -> None:
    data = spec({"kind": "llamacpp"}, {"format": "gguf", "quantization": "q8_0"})
    data["model"] = {"id": "qwen3-1.7b", "prepare": {"format": "gguf", "quantization": "q8_0"}}
    model = parse_deployment(data).model
    assert model.source.kind == "huggingface" and model.quantisation is Quantisation.Q8_0


@pytest.mark.parametrize(("data", "field", "allowed"), [
    (spec({"kind": "onnxruntime"}, {"format": "gguf"}), "model.prepare.format", "onnx"),
    (spec({"kind": "llamacpp"}, {"format": "onnx"}), "model.prepare.format", "gguf"),
    (spec({"kind": "ollama"}, {"format": "gguf"}), "model.prepare", "runtime.kind llamacpp"),
    (spec({"kind": "vllm"}, {"format": "gguf"}), "model.prepare", "runtime.kind llamacpp"),
    (spec({"kind": "onnxruntime"}, {"format": "onnx", "precision": "fp16"}), "model.prepare.precision", "int4, fp32"),
    (spec({"kind": "onnxruntime"}, {"format": "onnx", "execution_provider": "cuda"}),
     "model.prepare.execution_provider", "cpu"),
    (spec({"kind": "llamacpp"}, {"format": "gguf"}, quantisation="q8_0"), "model.quantisation", "no value"),
])
def test_combinations_that_cannot_work_are_refused_by_field(data: dict[str, Any], field: str, allowed: str) -> None:
    problems = problems_of(data)
    assert [path for path, _ in problems] == [field]
    assert allowed in problems[0][1]


def test_an_mlx_host_converts_for_itself() -> None:
    data = {**spec({"kind": "mlx"}, {"format": "gguf"}), "targets": {"host": {"os": "macos"}}}
    problems = problems_of(data)
    assert [path for path, _ in problems] == ["model.prepare"]
    assert "runtime.kind llamacpp" in problems[0][1]


def test_only_a_hugging_face_checkpoint_is_prepared() -> None:
    data = spec({"kind": "llamacpp"}, {"format": "gguf"})
    data["model"]["source"] = {"kind": "gguf", "repo": "acme/tiny-chat-GGUF", "file": "tiny.gguf", "revision": REVISION}
    assert ("model.source.kind", "huggingface (repo and revision)") in problems_of(data)


@pytest.mark.parametrize(("prepare", "field", "allowed"), [
    ({"format": "gguf", "quantization": "q5_k_m"}, "model.prepare.quantization", "'q4_k_m'"),
    ({"format": "onnx", "precision": "int2"}, "model.prepare.precision", "'int4'"),
    ({"format": "ggml"}, "model.prepare.format", "gguf, onnx"),
    ({"quantization": "q4_k_m"}, "model.prepare.format", ""),
])
def test_values_outside_the_lists_are_refused_by_the_field_the_user_wrote(prepare: dict[str, Any], field: str,
                                                                         allowed: str) -> None:
    problems = problems_of(spec({"kind": "llamacpp"}, prepare))
    assert [path for path, _ in problems] == [field]
    assert allowed in problems[0][1]


def test_the_model_cache_holds_the_checkpoint_and_the_intermediate_while_preparing() -> None:
    published = {"kind": "gguf", "repo": "acme/tiny-chat-GGUF", "file": "tiny.gguf", "revision": REVISION}
    plain = spec({"kind": "llamacpp"}, {"format": "gguf", "quantization": "q8_0"})
    plain["model"]["source"], plain["model"]["quantisation"] = published, "q8_0"
    del plain["model"]["prepare"]
    prepared = spec({"kind": "llamacpp"}, {"format": "gguf", "quantization": "q8_0"})
    for data in (plain, prepared):
        data["model"]["parameters_billion"] = 7.0
        data["targets"] = {"kubernetes": {"namespace": "demo"}}
        data["secrets"] = {"api-keys": {"backend": "kubernetes"}}
    assert parse_deployment(plain).sizing.cache_volume_bytes == 14 * 2**30  # twice 7.4 GB of q8_0 weights
    assert parse_deployment(prepared).sizing.cache_volume_bytes == 67 * 2**30  # twice (7.4 GB of q8_0 + 2 x 14 GB at f16)
    prepared["targets"]["kubernetes"]["cache_size"] = "20Gi"
    assert [path for path, _ in problems_of(prepared)] == ["targets.kubernetes.cache_size"]


CUSTOM_CODE = sorted(e.id for e in catalogue().values() if e.custom_code)


def test_the_catalogue_records_phi_4_mini_as_naming_its_own_code() -> None:
    assert CUSTOM_CODE == ["phi-4-mini-instruct"]


@pytest.mark.parametrize("model_id", CUSTOM_CODE)
@pytest.mark.parametrize(("runtime", "prepare"), [
    ({"kind": "llamacpp"}, {"format": "gguf", "quantization": "q4_k_m"}),
    ({"kind": "onnxruntime"}, {"format": "onnx", "precision": "int4"}),
])
def test_a_catalogue_checkpoint_naming_its_own_code_is_refused_at_validation(
        model_id: str, runtime: dict[str, Any], prepare: dict[str, Any], tmp_path: Path) -> None:
    data = spec(runtime, prepare)
    data["model"] = {"id": model_id, "prepare": prepare}
    problems = problems_of(data)
    assert [path for path, _ in problems] == ["model.prepare"]
    assert "qwen3-1.7b" in problems[0][1] and model_id not in problems[0][1]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "model.prepare" in result.stderr and "auto_map" in result.stderr


def test_a_catalogue_checkpoint_without_its_own_code_is_prepared() -> None:
    for model_id in sorted(set(catalogue()) - set(CUSTOM_CODE)):
        data = spec({"kind": "onnxruntime"}, {"format": "onnx"})
        data["model"] = {"id": model_id, "prepare": {"format": "onnx"}}
        if catalogue()[model_id].gated:
            data["model"]["hub_token_secret"] = "hf-token"
            data["secrets"]["hf-token"] = {}
        assert parse_deployment(data).model.prepare is not None
