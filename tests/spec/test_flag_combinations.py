"""Pass-through flags that each pass alone but stop the runtime at start together, or against the sizing, are
refused at validate and render with the index of the flag, an allowed: line and nothing echoed; the same flags
in a combination the runtime accepts render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.spec.test_spec_honesty import _refused, _runtime
from tests.support.cli import run_in_process


def _vllm(*args: str, concurrency: int = 8) -> dict[str, Any]:
    spec = _runtime("vllm", extra_args=list(args))
    spec["serving"] = {"concurrency": concurrency}
    return spec


REFUSED = {
    "auto tool choice without a parser": (_vllm("--seed", "7351", "--enable-auto-tool-choice"), 2,
                                          "needs a tool-call parser"),
    "token budget below the sized concurrency": (_vllm("--max-num-batched-tokens", "7"), 0,
                                                 "below the number of concurrent sequences"),
    "token budget below the sized concurrency, inline": (_vllm("--max-num-batched-tokens=7"), 0,
                                                         "below the number of concurrent sequences"),
    "token budget below the context without chunked prefill": (
        _vllm("--enable-chunked-prefill", "--no-enable-chunked-prefill", "--max-num-batched-tokens", "2048"), 2,
        "below the context length"),
    "quantised V cache with flash attention off": (
        _runtime("llamacpp", flash_attn="off", extra_args=["--cache-type-v", "q8_0"]), 0,
        "flash_attn is off"),
    "quantised V cache, the last of two, with flash attention off": (
        _runtime("llamacpp", flash_attn="off", extra_args=["--cache-type-v", "f16", "--cache-type-v", "q4_0"]), 2,
        "flash_attn is off"),
    "batch threads beyond the container's CPUs": (
        {**_runtime("llamacpp", extra_args=["--threads-batch", "100000"]), "resources": {"cpu": 4}}, 0,
        "more threads than resources.cpu"),
}


def test_ollama_threads_beyond_the_containers_cpus_are_refused(tmp_path: Path) -> None:
    spec = {**_runtime("ollama", modelfile={"parameters": {"num_thread": 2147483647}}), "resources": {"cpu": 4}}
    _refused(tmp_path, spec, "runtime.modelfile.parameters.num_thread", "more threads than resources.cpu",
             echoed=("2147483647",))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_flags_the_runtime_refuses_together_are_refused(case: str, tmp_path: Path) -> None:
    spec, index, words = REFUSED[case]
    _refused(tmp_path, spec, f"runtime.extra_args[{index}]", words, echoed=("7351",))


ACCEPTED = {
    "auto tool choice with a parser": _vllm("--enable-auto-tool-choice", "--tool-call-parser", "hermes"),
    "token budget equal to the sized concurrency": _vllm("--max-num-batched-tokens", "8"),
    "small budget with chunked prefill back on": _vllm("--no-enable-chunked-prefill", "--enable-chunked-prefill",
                                                       "--max-num-batched-tokens", "2048"),
    "quantised V cache with flash attention on": _runtime("llamacpp", flash_attn="on",
                                                          extra_args=["--cache-type-v", "q8_0"]),
    "bf16 V cache with flash attention off": _runtime("llamacpp", flash_attn="off",
                                                      extra_args=["--cache-type-v", "bf16"]),
    "batch threads up to the container's CPUs": {**_runtime("llamacpp", extra_args=["--threads-batch", "4"]),
                                                 "resources": {"cpu": 3.5}},
    "Ollama threads up to the container's CPUs": {**_runtime("ollama", modelfile={"parameters": {"num_thread": 2}}),
                                                  "resources": {"cpu": 2}},
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_flags_the_runtime_accepts_together_render(case: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(ACCEPTED[case]), encoding="utf-8")
    assert run_in_process("validate", str(path)).code == 0
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr
