"""The CLI contract users and scripts rely on: render, validate and schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from slm_deploy.spec.loader import extract_deployment
from tests.conftest import STACKS, run_cli, stack_id


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_render_twice_gives_byte_identical_bundles(stack: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli("render", str(stack), "--out", str(first)).code == 0
    assert run_cli("render", str(stack), "--out", str(second)).code == 0
    assert _tree(first) == _tree(second)
    manifest = json.loads((first / "manifest.json").read_text())
    assert set(manifest["files"]) == set(_tree(first)) - {"manifest.json"}


def test_render_defaults_to_build_name(tmp_path: Path) -> None:
    stack = next(s for s in STACKS if "llamacpp" in s.name)
    result = run_cli("render", str(stack), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert (tmp_path / "build" / "qwen3-edge" / "manifest.json").is_file()


def test_render_again_replaces_the_previous_bundle(tmp_path: Path) -> None:
    stack = next(s for s in STACKS if "llamacpp" in s.name)
    out = tmp_path / "bundle"
    run_cli("render", str(stack), "--out", str(out))
    (out / "compose" / "secrets").mkdir()
    (out / "compose" / "secrets" / "api-keys").write_text("ops:not-a-real-key\n")
    assert run_cli("render", str(stack), "--out", str(out)).code == 0
    assert (out / "compose" / "secrets" / "api-keys").read_text() == "ops:not-a-real-key\n"


def test_render_refuses_a_foreign_directory(tmp_path: Path) -> None:
    stack = next(s for s in STACKS if "llamacpp" in s.name)
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli("render", str(stack), "--out", str(tmp_path))
    assert result.code == 2 and "not a slm-deploy bundle" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_validate_prints_the_plan_table() -> None:
    result = run_cli("validate", *map(str, STACKS))
    assert result.code == 0, result.stderr
    for name in ("phi4-mini", "assistant", "qwen3-edge", "phi4-onnx", "foundry-edge"):
        assert name in result.stdout


def test_validate_json_shows_tier_memory_and_flags() -> None:
    stack = next(s for s in STACKS if "vllm" in s.name)
    plan = json.loads(run_cli("validate", str(stack), "--json").stdout)
    assert plan["tier"] == "small"
    assert plan["runtime"] == "vllm"
    assert plan["args"][plan["args"].index("--max-model-len") + 1] == "8192"
    assert plan["args"][plan["args"].index("--max-num-seqs") + 1] == "16"
    assert plan["memory_limit_bytes"] > 0 and plan["gpu_memory_needed_bytes"] > plan["weights_bytes"]


def test_schema_accepts_every_example_and_rejects_unknown_keys() -> None:
    result = run_cli("schema")
    assert result.code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for stack in STACKS:
        spec, _ = extract_deployment(yaml.safe_load(stack.read_text()))
        assert not list(validator.iter_errors(spec)), stack.name
    bad = {**extract_deployment(yaml.safe_load(STACKS[0].read_text()))[0], "replicas": 3}
    assert list(validator.iter_errors(bad))


def test_unknown_model_suggests_the_closest_catalogue_id(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "x", "model": {"id": "qwen3-1.7"}, "runtime": {"kind": "ollama"},
                                    "secrets": {"api-keys": {}}}))
    result = run_cli("validate", str(spec))
    assert result.code == 2
    assert "model.id" in result.stderr and "did you mean 'qwen3-1.7b'" in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0 and result.stdout.startswith("slm-deploy ")
