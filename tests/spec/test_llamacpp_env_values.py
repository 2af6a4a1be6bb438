"""llama.cpp variables read with C's atoi take only what atoi reads as meant: a switch written `yes` or `true` is
0 to atoi, so the switch would stay off without a word."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slm_deploy.spec.env_values import value_refusal
from tests.spec.test_spec_honesty import _refused, _runtime
from tests.support.cli import run_in_process

SWITCHES = ["GGML_CPU_DISABLE_FUSION", "LLAMA_ATTN_ROT_DISABLE", "LLAMA_GRAPH_REUSE_DISABLE"]


def _gpu_spec(env: dict[str, str]) -> dict:
    spec = _runtime("llamacpp", env=env)
    spec["resources"] = {"gpu": {"type": "nvidia-l4"}}
    return spec


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("value", ["yes", "true", "on", "abc", "", " 1", "1x", "2", "-1"], ids=repr)
def test_a_switch_llamacpp_would_misread_is_refused(name: str, value: str, tmp_path: Path) -> None:
    _refused(tmp_path, _runtime("llamacpp", env={name: value}), f"runtime.env.{name}", "0 (off) or 1 (on)",
             echoed=(value,) if len(value) > 2 else ())


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("value", ["0", "1"])
def test_a_switch_written_0_or_1_is_taken(name: str, value: str) -> None:
    assert value_refusal("llamacpp", name, value) is None


@pytest.mark.parametrize("value", ["many", "", "64k", "0x40", "+64", " 64", "-1", "2147483648"], ids=repr)
def test_an_offload_batch_atoi_would_misread_is_refused(value: str, tmp_path: Path) -> None:
    _refused(tmp_path, _gpu_spec({"GGML_OP_OFFLOAD_MIN_BATCH": value}), "runtime.env.GGML_OP_OFFLOAD_MIN_BATCH",
             "a whole number from 0 to 2147483647")


@pytest.mark.parametrize("value", ["0", "32", "2147483647"])
def test_an_offload_batch_in_int_range_renders(value: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_gpu_spec({"GGML_OP_OFFLOAD_MIN_BATCH": value})), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 0, result.stderr
