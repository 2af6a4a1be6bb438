"""Values the pinned runtime would refuse at start, or silently change, are refused at validate: Modelfile
parameters outside Ollama's ranges, parser names vLLM does not register, chat templates llama.cpp does not build
in. Each refusal exits 2, names the path, says what is allowed and echoes nothing; the names come from the
interface records, which the deriver tests tie to the artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.pins.interfaces import load as load_record
from slm_deploy.spec.modelfile_parameters import OLLAMA_PARAMETERS
from tests.spec.test_spec_honesty import _modelfile, _refused, _runtime
from tests.support.cli import run_in_process

CANARY_NUMBERS = ("92233720368547758080", "7351", "0.73519", "3.9e+39", "1.73519")


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("seed", 92233720368547758080, "an integer from -9223372036854775808 to 9223372036854775807"),
    ("top_k", -7351, "an integer from 0 to 262208"),
    ("top_k", 7351000, "an integer from 0 to 262208"),
    ("temperature", -0.73519, "a number from 0 to 3.402823e+38"),
    ("temperature", 3.9e39, "a number from 0 to 3.402823e+38"),
    ("top_p", 1.73519, "a number from 0 to 1"),
    ("num_thread", 7351000000000, "an integer from 0 to 2147483647"),
])
def test_modelfile_values_outside_ollamas_range_are_refused(name: str, value: Any, allowed: str,
                                                             tmp_path: Path) -> None:
    _refused(tmp_path, _modelfile({name: value}), f"runtime.modelfile.parameters.{name}", "outside the range",
             echoed=CANARY_NUMBERS)
    result = run_in_process("validate", str(tmp_path / "spec.yaml"))
    assert f"  allowed: {allowed}\n" in result.stderr


def test_modelfile_values_at_the_edges_of_the_range_render(tmp_path: Path) -> None:
    spec = _modelfile({"seed": 2 ** 63 - 1, "top_k": 0, "temperature": 0, "top_p": 1, "num_predict": -1})
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    modelfile = next(out.rglob("Modelfile")).read_text(encoding="utf-8")
    assert "PARAMETER seed 9223372036854775807" in modelfile and "PARAMETER top_k 0" in modelfile


def test_the_parameter_table_has_the_recorded_go_types() -> None:
    """The names and types are Ollama's Options and Runner fields at the pinned tag (the ollama record)."""
    assert {name: kind.go_type for name, kind in OLLAMA_PARAMETERS.items()} == dict(load_record("ollama").parameters)


NAME_CASES = {
    "tool-call parser": ("vllm", "--tool-call-parser", "hermes"),
    "reasoning parser": ("vllm", "--reasoning-parser", "qwen3"),
    "built-in chat template": ("llamacpp", "--chat-template", "chatml"),
}


@pytest.mark.parametrize("case", sorted(NAME_CASES))
def test_a_name_the_runtime_registers_is_passed_through(case: str, tmp_path: Path) -> None:
    kind, flag, name = NAME_CASES[case]
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(yaml.safe_dump(_runtime(kind, extra_args=[flag, name])), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    compose = (out / "compose" / "compose.yaml").read_text(encoding="utf-8")
    assert f"- {flag}\n" in compose and f"- {name}\n" in compose


UNREGISTERED = {  # vLLM's argparse also reads --flag=value; llama-server does not (that form has its own refusal)
    **{case: (kind, flag, [flag, "zzcanaryname"]) for case, (kind, flag, _) in NAME_CASES.items()},
    "tool-call parser, inline": ("vllm", "--tool-call-parser", ["--tool-call-parser=zzcanaryname"]),
    "reasoning parser, inline": ("vllm", "--reasoning-parser", ["--reasoning-parser=zzcanaryname"]),
}


@pytest.mark.parametrize("case", sorted(UNREGISTERED))
def test_a_name_the_runtime_does_not_register_is_refused_with_the_registered_names(case: str, tmp_path: Path) -> None:
    kind, flag, args = UNREGISTERED[case]
    _refused(tmp_path, _runtime(kind, extra_args=args), "runtime.extra_args[0]", "does not accept",
             echoed=("zzcanaryname",))
    result = run_in_process("validate", str(tmp_path / "spec.yaml"))
    allowed = next(line for line in result.stderr.splitlines() if line.startswith("  allowed: "))
    assert allowed == "  allowed: one of " + ", ".join(sorted(load_record(kind).flag_values[flag]))


def _sized(kind: str, **options: Any) -> dict[str, Any]:
    """A spec whose runtime gets a context of 4096 per sequence and two sequences (llama.cpp: --ctx-size 8192)."""
    spec = _runtime(kind, **options)
    spec["model"]["context_length"], spec["serving"] = 4096, {"concurrency": 2}
    return spec


BEYOND_THE_RUNTIME = {  # a value the pinned runtime would quietly lower, drop or wrap around
    "llama.cpp batch beyond --ctx-size": (_sized("llamacpp", extra_args=["--batch-size", "8193"]),
                                          "runtime.extra_args[0]", "1 to 8192"),
    "llama.cpp micro-batch beyond the default batch": (_sized("llamacpp", extra_args=["--ubatch-size", "2049"]),
                                                       "runtime.extra_args[0]", "1 to 2048"),
    "llama.cpp micro-batch beyond the given batch": (
        _sized("llamacpp", extra_args=["--batch-size", "1024", "--ubatch-size", "1025"]), "runtime.extra_args[2]",
        "1 to 1024"),
    "ollama num_batch beyond num_ctx": (_sized("ollama", modelfile={"parameters": {"num_batch": 4097}}),
                                        "runtime.modelfile.parameters.num_batch", "an integer from 1 to 4096"),
    "ollama num_batch of 0": (_sized("ollama", modelfile={"parameters": {"num_batch": 0}}),
                              "runtime.modelfile.parameters.num_batch", "an integer from 1 to 4096"),
    "ollama num_gpu without a GPU": (_runtime("ollama", modelfile={"parameters": {"num_gpu": 7351}}),
                                     "runtime.modelfile.parameters.num_gpu", "no num_gpu without resources.gpu"),
    "ollama num_gpu beyond the model's layers": (
        {**_runtime("ollama", modelfile={"parameters": {"num_gpu": 30}}), "resources": {"gpu": {"type": "nvidia-l4"}}},
        "runtime.modelfile.parameters.num_gpu", "-1 (automatic) or 0 to 29 (the model's 28 layers"),
    "ollama main_gpu without a GPU": (_runtime("ollama", modelfile={"parameters": {"main_gpu": 0}}),
                                      "runtime.modelfile.parameters.main_gpu", "no main_gpu without resources.gpu"),
    "ollama main_gpu beyond the GPUs given": (
        {**_runtime("ollama", modelfile={"parameters": {"main_gpu": 2}}),
         "resources": {"gpu": {"type": "nvidia-l4", "count": 2}}},
        "runtime.modelfile.parameters.main_gpu", "0 to 1"),
    "ollama num_gpu below automatic": (
        {**_runtime("ollama", modelfile={"parameters": {"num_gpu": -2}}), "resources": {"gpu": {"type": "nvidia-l4"}}},
        "runtime.modelfile.parameters.num_gpu", "-1 (automatic) or 0 to 29"),
    "ollama quantised KV cache without flash attention": (
        _runtime("ollama", kv_cache_type="q8_0", flash_attention=False), "runtime.kv_cache_type",
        "runtime.flash_attention: true"),
    "ollama keep_alive beyond int64 hours": (_runtime("ollama", keep_alive="2562048h"), "runtime.keep_alive",
                                             "at most 2562047h"),
    "ollama keep_alive beyond int64 seconds": (_runtime("ollama", keep_alive="9223372037"), "runtime.keep_alive",
                                               "9223372036 seconds"),
    "ollama keep_alive of 5000 digits": (_runtime("ollama", keep_alive="7" * 5000 + "m"), "runtime.keep_alive",
                                         "153722867m"),
    "llama.cpp seed beyond uint32": (_runtime("llamacpp", extra_args=["--seed", "4294967296"]),
                                     "runtime.extra_args[0]", "0 to 4294967295"),
    "llama.cpp top-p above 1": (_runtime("llamacpp", extra_args=["--top-p", "2"]), "runtime.extra_args[0]",
                                "a number from 0 to 1"),
    "vLLM negative seed": (_runtime("vllm", extra_args=["--seed", "-1"]), "runtime.extra_args[0]",
                           "0 to 4294967295"),
}


@pytest.mark.parametrize("case", sorted(BEYOND_THE_RUNTIME))
def test_a_value_the_runtime_would_lower_or_wrap_is_refused(case: str, tmp_path: Path) -> None:
    spec, field, allowed = BEYOND_THE_RUNTIME[case]
    _refused(tmp_path, spec, field, "  allowed: ", echoed=("8193", "2049", "1025", "4097", "2562048", "9223372037"))
    assert allowed in run_in_process("validate", str(tmp_path / "spec.yaml")).stderr


WITHIN_THE_RUNTIME = {
    "llama.cpp batch equal to --ctx-size": _sized("llamacpp", extra_args=["--batch-size", "8192",
                                                                          "--ubatch-size", "8192"]),
    "ollama num_batch equal to num_ctx": _sized("ollama", modelfile={"parameters": {"num_batch": 4096}}),
    "ollama main_gpu of the second GPU given": {
        **_runtime("ollama", modelfile={"parameters": {"main_gpu": 1}}),
        "resources": {"gpu": {"type": "nvidia-l4", "count": 2}}},
    "ollama top_k at the largest vocabulary": _runtime("ollama", modelfile={"parameters": {"top_k": 262208}}),
    "ollama num_gpu of every layer and the output layer on a GPU": {
        **_runtime("ollama", modelfile={"parameters": {"num_gpu": 29}}), "resources": {"gpu": {"type": "nvidia-l4"}}},
    "ollama quantised KV cache with flash attention": _runtime("ollama", kv_cache_type="q8_0"),
    "ollama keep_alive at the int64 limit": _runtime("ollama", keep_alive="2562047h"),
    "ollama keep_alive forever": _runtime("ollama", keep_alive="-1"),
    "ollama keep_alive with leading zeros": _runtime("ollama", keep_alive="0009223372036s"),
    "llama.cpp random seed": _runtime("llamacpp", extra_args=["--seed", "-1"]),
    "llama.cpp seed 0 and the largest uint32": _runtime("llamacpp", extra_args=["--seed", "0", "--seed",
                                                                                  "4294967295", "--top-p", "1"]),
    "vLLM seed 0": _runtime("vllm", extra_args=["--seed", "0"]),
}


@pytest.mark.parametrize("case", sorted(WITHIN_THE_RUNTIME))
def test_a_value_the_runtime_keeps_renders(case: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(WITHIN_THE_RUNTIME[case]), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr
