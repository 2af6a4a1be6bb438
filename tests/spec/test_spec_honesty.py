"""What `check` would flag, or what cannot work, is refused at validate: one error naming the field, an
`allowed:` line, exit 2, no value or user-chosen key echoed, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.pins.interfaces import load as load_record
from slm_deploy.cli.env_reference import env_reference_markdown
from slm_deploy.spec.launch_env import allowed_names, refusal
from slm_deploy.spec.modelfile_parameters import OLLAMA_PARAMETERS
from slm_deploy.spec.runtime_records import RECORD_OF
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import load_deployment
from tests.spec.test_bad_input import BASE, _with
from tests.support.cli import run_in_process

GOLDEN_SPECS = sorted(Path("stacks").glob("Pulumi.*.yaml"))


def _refused(tmp_path: Path, spec: Any, field: str, words: str, *, echoed: tuple[str, ...] = ()) -> None:
    """validate and render both exit 2 with one error naming `field`, an allowed: line, nothing written."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "bundle"
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if field in line and not line.startswith(" ")]
        assert len(lines) == 1, result.stderr
        assert words in result.stderr, result.stderr
        assert "  allowed: " in result.stderr, result.stderr
        for value in echoed:
            assert value not in result.stderr, f"{value!r} echoed: {result.stderr}"
    assert not out.exists()


def _runtime(kind: str, **options: Any) -> dict[str, Any]:
    """BASE with another runtime and a model that runtime can load."""
    model = "phi-4-mini-instruct" if kind == "onnxruntime" else "qwen3-1.7b"
    spec = {**BASE, "runtime": {"kind": kind, **options}, "model": {"id": model}}
    if kind == "vllm":
        spec["resources"] = {"gpu": {"type": "nvidia-l4"}}
    return spec


ENV_CASES = {
    "trust remote code by environment": ("vllm", "VLLM_TRUST_REMOTE_CODE", "weakens"),
    "runtime LoRA updates": ("vllm", "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "weakens"),
    "slots endpoint by environment": ("llamacpp", "LLAMA_ARG_ENDPOINT_SLOTS", "spelling of a command-line flag"),
    "context size by environment": ("llamacpp", "LLAMA_ARG_CTX_SIZE", "spelling of a command-line flag"),
    "hub endpoint redirect": ("llamacpp", "HF_ENDPOINT", "connects"),
    "proxy": ("ollama", "HTTPS_PROXY", "connects"),
    "preloaded library": ("llamacpp", "LD_PRELOAD", "loads"),
    "interpreter path": ("onnxruntime", "PYTHONPATH", "loads"),
    "listen address": ("ollama", "OLLAMA_HOST", "listens"),
    "context length the spec owns": ("ollama", "OLLAMA_CONTEXT_LENGTH", "set from the spec"),
    "cache path": ("vllm", "VLLM_CACHE_ROOT", "files"),
    "request logging": ("ollama", "OLLAMA_DEBUG_LOG_REQUESTS", "weakens"),
    "own server setting": ("onnxruntime", "SLM_MAX_TOKENS", "weakens"),
    "remote model hosts": ("ollama", "OLLAMA_REMOTES", "connects"),
    "trace logging of model output": ("ollama", "OLLAMA_DEBUG", "prompts and generated text"),
    "debug logging of prompts": ("vllm", "VLLM_LOGGING_LEVEL", "prompts and generated text"),
    "GPU selection by the image's variable": ("ollama", "NVIDIA_VISIBLE_DEVICES", "device plugin"),
    "GPU driver capabilities": ("ollama", "NVIDIA_DRIVER_CAPABILITIES", "device plugin"),
    "GPU selection by CUDA": ("vllm", "CUDA_VISIBLE_DEVICES", "device plugin"),
    "a variable llama.cpp does not read": ("llamacpp", "GGML_NUM_THREADS", "not a variable llamacpp reads"),
    "a made-up name": ("vllm", "VLLM_NOT_A_KNOB", "not a variable vllm reads"),
    "a generic variable the runtime does not read": ("ollama", "OMP_NUM_THREADS", "not a variable ollama reads"),
    "a library's thread count vLLM only hands on": ("vllm", "OMP_NUM_THREADS", "only to hand to a library"),
    "a PyTorch allocator setting vLLM only hands on": ("vllm", "PYTORCH_CUDA_ALLOC_CONF", "only to hand to a library"),
    "an NCCL setting vLLM only hands on": ("vllm", "NCCL_ALGO", "only to hand to a library"),
    "a JSON document or file vLLM opens at start": ("vllm", "VLLM_HUMMING_INPUT_QUANT_CONFIG", "path of a JSON file"),
    "readline history, read only by the interactive client": ("ollama", "OLLAMA_NOHISTORY", "interactive client"),
    "GPU memory overhead without a GPU": ("ollama", "OLLAMA_GPU_OVERHEAD", "resources.gpu is not set"),
    "spreading over GPUs without a GPU": ("ollama", "OLLAMA_SCHED_SPREAD", "resources.gpu is not set"),
    "a GPU offload threshold without a GPU": ("llamacpp", "GGML_OP_OFFLOAD_MIN_BATCH", "resources.gpu is not set"),
    "a renamed variable vLLM keeps only to warn": ("vllm", "VLLM_TRITON_ATTN_USE_TD", "renamed or retired"),
    "pull streams on a server that never pulls": ("ollama", "OLLAMA_MAX_TRANSFER_STREAMS", "never transfers a model"),
    "the runtime's own child-process switch": ("llamacpp", "LLAMA_SERVER_CHILD_MODE", "internal to the runtime"),
    "a build-time variable": ("vllm", "VLLM_USE_PRECOMPILED", "internal to the runtime"),
    "the MoE routing simulator of vLLM's tests": ("vllm", "VLLM_MOE_ROUTING_SIMULATION_STRATEGY", "internal to the runtime"),
    "a pipeline layer partition, with no pipeline stages": ("vllm", "VLLM_PP_LAYER_PARTITION", "how the model is split"),
    "a library to load": ("vllm", "CUDNN_LIBRARY", "loads"),
    "a folder of tuned configs": ("vllm", "VLLM_TUNED_CONFIG_FOLDER", "files"),
    "a KV-transfer store segment": ("vllm", "MOONCAKE_PREFERRED_SEGMENT", "connects"),
    "vLLM's own logging set-up": ("vllm", "VLLM_CONFIGURE_LOGGING", "logs"),
    "the log stream": ("vllm", "VLLM_LOGGING_STREAM", "logs"),
    "a logging config file": ("vllm", "VLLM_LOGGING_CONFIG_PATH", "files"),
    "the stats log interval": ("vllm", "VLLM_LOG_STATS_INTERVAL", "logs"),
    "skipped model name validation": ("vllm", "VLLM_SKIP_MODEL_NAME_VALIDATION", "weakens"),
    "a server kept up after its engine died": ("vllm", "VLLM_KEEP_ALIVE_ON_ENGINE_DEATH", "weakens"),
    "a response store without bound": ("vllm", "VLLM_ENABLE_RESPONSES_API_STORE", "every response in memory"),
    "ROCm kernels": ("vllm", "VLLM_ROCM_USE_AITER", "hardware no target runs on"),
    "a HIP tuning switch": ("vllm", "HIP_ONLINE_TUNING", "hardware no target runs on"),
    "AMD Triton attention": ("vllm", "FLASH_ATTENTION_TRITON_AMD_ENABLE", "hardware no target runs on"),
    "Intel XPU graphs": ("vllm", "VLLM_XPU_ENABLE_XPU_GRAPH", "hardware no target runs on"),
    "TPU pathways": ("vllm", "VLLM_TPU_USING_PATHWAYS", "hardware no target runs on"),
    "XLA recompilation check": ("vllm", "VLLM_XLA_CHECK_RECOMPILATION", "hardware no target runs on"),
    "vLLM's CPU backend": ("vllm", "VLLM_CPU_KVCACHE_SPACE", "CPU backend"),
    "Ollama's Vulkan backend": ("ollama", "OLLAMA_VULKAN", "hardware no target runs on"),
    "llama.cpp's Vulkan backend": ("llamacpp", "GGML_VK_DISABLE_F16", "hardware no target runs on"),
    "llama.cpp's OpenCL backend": ("llamacpp", "GGML_OPENCL_FA_TUNE", "hardware no target runs on"),
    "llama.cpp's SYCL backend": ("llamacpp", "GGML_SYCL_NO_PINNED", "hardware no target runs on"),
    "llama.cpp's Hexagon DSP backend": ("llamacpp", "GGML_HEXAGON_NDEV", "hardware no target runs on"),
    "llama.cpp's SpacemiT RISC-V backend": ("llamacpp", "SPACEMIT_CORE_ARCH", "hardware no target runs on"),
    "llama.cpp's ZenDNN backend": ("llamacpp", "GGML_ZENDNN_ADAPTIVE_FALLBACK", "hardware no target runs on"),
    "llama.cpp's Esperanto ET-SoC backend": ("llamacpp", "GGML_ET_UBERKERNEL", "hardware no target runs on"),
    "llama.cpp's Arm KleidiAI kernels": ("llamacpp", "GGML_KLEIDIAI_SME", "Arm KleidiAI"),
    "the KleidiAI kernels' thread hint": ("llamacpp", "GGML_TOTAL_THREADS", "Arm KleidiAI"),
    "an LLVM OpenMP setting GNU libgomp never reads": ("llamacpp", "KMP_BLOCKTIME", "link GNU libgomp"),
}
ACCEPTED = {"vllm": ("VLLM_MAX_N_SEQUENCES", "2"), "ollama": ("OLLAMA_LOAD_TIMEOUT", "2"),
            "llamacpp": ("OMP_WAIT_POLICY", "passive")}
"""One variable each runtime reads and no rule refuses, with a value it parses."""


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_runtime_env_refuses_what_would_reroute_reflag_or_weaken(case: str, tmp_path: Path) -> None:
    kind, name, words = ENV_CASES[case]
    env = dict([ACCEPTED.get(kind, ("OMP_NUM_THREADS", "2")), (name, "1")])
    shown = name if any(name in load_record(r).env for r in RECORD_OF.values()) else \
        f"<key {sorted(env).index(name) + 1}>"
    _refused(tmp_path, _runtime(kind, env=env), f"runtime.env.{shown}", words)  # a name the record lists is shown


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_runtime_env_keeps_variables_the_runtime_reads(kind: str, tmp_path: Path) -> None:
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    name, value = ACCEPTED[kind]
    path.write_text(yaml.safe_dump(_runtime(kind, env={name: value})), encoding="utf-8")
    assert run_in_process("validate", str(path)).code == 0
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    compose = (out / "compose" / "compose.yaml").read_text(encoding="utf-8")
    assert f"{name}={value}" in compose or f"{name}: '{value}'" in compose or f"{name}: {value}" in compose


ENV_VALUES = {  # how vllm/envs.py at the pinned version parses each: int(), env_with_choices, == / in
    "int() of a word": ("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "true", "a whole number from 0"),
    "bool(int()) of a word": ("VLLM_USE_FASTOKENS", "yes", "0 (off) or 1 (on)"),
    "bool(int()) of another number": ("VLLM_USE_FASTOKENS", "7351", "0 (off) or 1 (on)"),
    "a negative timeout": ("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "-7351",
                           "a whole number from 0 to 9223372036854775807"),
    "a timeout beyond 64 bits": ("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "92233720368547758080", "a whole number from 0"),
    "an engine start timeout of 0, which fails at once": ("VLLM_ENGINE_READY_TIMEOUT_S", "0",
                                                           "a whole number of seconds from 1 to"),
    "an engine start timeout that overflows in milliseconds": ("VLLM_ENGINE_READY_TIMEOUT_S", str(2 ** 63 - 1),
                                                               "a whole number of seconds from 1 to 9223372036854775;"),
    "a negative count whose default is an expression": ("VLLM_DBO_COMM_SMS", "-5", "a whole number from 0"),
    "a negative buffer size": ("VLLM_FLASHINFER_WORKSPACE_BUFFER_SIZE", "-1", "a whole number from 0"),
    "a negative worker count": ("VLLM_MAX_AUDIO_PREPROCESS_WORKERS", "-3", "a whole number from 0"),
    "bool(int()) of another number inside a conditional": ("VLLM_USE_FLASHINFER_SAMPLER", "7", "0 (off) or 1 (on)"),
    "a word outside a comma-separated list": ("VLLM_GPT_OSS_SYSTEM_TOOL_MCP_LABELS", "container,bogus",
                                              "words from container, code_interpreter, web_search_preview"),
    "a negative size": ("VLLM_MAX_AUDIO_CLIP_FILESIZE_MB", "-7351000", "a whole number from 0"),
    "a choice outside the list": ("VLLM_WORKER_MULTIPROC_METHOD", "forkserver", "one of spawn, fork"),
    "a case-sensitive choice in another case": ("VLLM_WORKER_MULTIPROC_METHOD", "SPAWN", "one of spawn, fork"),
    "a switch that reads only 1 as on": ("VLLM_USE_BREAKABLE_CUDAGRAPH", "true", "one of 1, 0"),
    "a switch that reads true or 1 as on": ("VLLM_DISABLE_PYNCCL", "yes", "one of true, 1, 0, false"),
    "a switch read by a helper function": ("VLLM_USE_AOT_COMPILE", "true", "one of 1, 0"),
    "a video loader no module registers": ("VLLM_VIDEO_LOADER_BACKEND", "decord", "one of glm46v"),
    "a media connector no module registers": ("VLLM_MEDIA_CONNECTOR", "s3x", "one of http"),
    "no media-loading workers, which stops the server": ("VLLM_MEDIA_LOADING_THREAD_COUNT", "0",
                                                        "a whole number from 1 to"),
    "an output chunk of 0, which fails every request": ("VLLM_V1_OUTPUT_PROC_CHUNK_SIZE", "0",
                                                       "a whole number from 1 to"),
    "at most 0 sequences, which refuses every request": ("VLLM_MAX_N_SEQUENCES", "0", "a whole number from 1 to"),
    "at most 0 prompts, which refuses every prompt list": ("VLLM_MAX_COMPLETION_PROMPTS", "0",
                                                          "a whole number from 1 to"),
    "a model step timeout of 0": ("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "0", "a whole number from 1 to"),
    "a switch read by a helper that calls another": ("VLLM_USE_MEGA_AOT_ARTIFACT", "yes", "one of 1, 0"),
    "a tri-state read through a dict, which reads other words as unset": ("VLLM_TRITON_USE_TD", "true",
                                                                          "one of 1, 0"),
}


@pytest.mark.parametrize("case", sorted(ENV_VALUES))
def test_runtime_env_refuses_a_value_vllm_crashes_on_or_reads_as_off(case: str, tmp_path: Path) -> None:
    name, value, allowed = ENV_VALUES[case]
    _refused(tmp_path, _runtime("vllm", env={name: value}), f"runtime.env.{name}", "cannot parse",
             echoed=(value,) if len(value) >= 4 else ())  # shorter ones are common in the allowed text
    assert f"  allowed: {allowed}" in run_in_process("validate", str(tmp_path / "spec.yaml")).stderr


def test_runtime_env_keeps_values_vllm_parses(tmp_path: Path) -> None:
    env = {"VLLM_ENGINE_READY_TIMEOUT_S": "1", "VLLM_USE_FASTOKENS": "1", "VLLM_MAX_AUDIO_CLIP_FILESIZE_MB": "0",
           "VLLM_FLOAT32_MATMUL_PRECISION": "HIGH", "VLLM_DISABLE_PYNCCL": " True",
           "VLLM_GPT_OSS_SYSTEM_TOOL_MCP_LABELS": "container, web_search_preview", "VLLM_USE_AOT_COMPILE": "0",
           "VLLM_USE_MEGA_AOT_ARTIFACT": "1", "VLLM_TRITON_USE_TD": "0"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_runtime("vllm", env=env)), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("kind", ["onnxruntime", "vllm", "ollama"])
def test_an_unknown_name_is_refused_with_the_names_that_are_allowed(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_runtime(kind, env={"ZZ_CANARY_7F3A": "1"})), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "runtime.env.<key 1>" in result.stderr and "ZZ_CANARY_7F3A" not in result.stderr
    allowed = next(line for line in result.stderr.splitlines() if line.startswith("  allowed: "))
    names = allowed_names(kind, no_gpu=None if kind == "vllm" else "no GPU")  # only the vLLM spec has resources.gpu
    if not names:
        assert "no variables" in allowed
    elif len(names) <= 40:
        assert allowed == "  allowed: " + ", ".join(names)
    else:
        assert f"one of the {len(names)} variables" in allowed and "docs/runtime-env.md" in allowed


def test_every_accepted_name_is_read_by_the_runtime_and_refused_by_no_class() -> None:
    for kind in ("vllm", "ollama", "llamacpp", "onnxruntime", "foundry-local"):
        record = load_record(RECORD_OF[kind])
        assert set(allowed_names(kind)) <= record.env
        assert all(refusal(kind, name) is None for name in allowed_names(kind))
    assert set(allowed_names("ollama")) == {
        "OLLAMA_GPU_OVERHEAD", "OLLAMA_LOAD_TIMEOUT", "OLLAMA_NEW_ENGINE", "OLLAMA_NO_CLOUD", "OLLAMA_SCHED_SPREAD"}
    assert set(allowed_names("ollama", no_gpu="no GPU")) == {"OLLAMA_LOAD_TIMEOUT", "OLLAMA_NEW_ENGINE", "OLLAMA_NO_CLOUD"}


def test_gpu_settings_are_kept_where_the_deployment_has_a_gpu(tmp_path: Path) -> None:
    spec = _runtime("ollama", env={"OLLAMA_GPU_OVERHEAD": "536870912", "OLLAMA_SCHED_SPREAD": "1"},
                    modelfile={"parameters": {"num_gpu": 29}})
    spec["resources"] = {"gpu": {"type": "nvidia-l4"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("name", ["OLLAMA_GPU_OVERHEAD", "OLLAMA_SCHED_SPREAD"])
def test_gpu_settings_are_refused_where_the_modelfile_offloads_no_layer(name: str, tmp_path: Path) -> None:
    spec = _runtime("ollama", env={name: "1"}, modelfile={"parameters": {"num_gpu": 0}})
    spec["resources"] = {"gpu": {"type": "nvidia-l4"}}
    _refused(tmp_path, spec, f"runtime.env.{name}", "num_gpu is 0, so Ollama offloads no layer")


def test_llamacpp_keeps_the_op_offload_batch_without_offloaded_layers(tmp_path: Path) -> None:
    """--n-gpu-layers 0 on the CUDA image still sends large batches of host-tensor operations to the GPU."""
    spec = _runtime("llamacpp", n_gpu_layers=0, env={"GGML_OP_OFFLOAD_MIN_BATCH": "64"})
    spec["resources"] = {"gpu": {"type": "nvidia-l4"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr


def test_an_mlx_variable_is_refused_for_what_mlx_reads_not_as_foreign_hardware(tmp_path: Path) -> None:
    """MLX runs on Apple silicon's Metal: a Metal variable is not hardware no target runs on, and MLX takes no
    extra_args to point at instead."""
    spec = {**BASE, "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "mlx", "env": {"MLX_METAL_FAST_SYNCH": "1"}},
            "targets": {"host": {"os": "macos"}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "is not a variable mlx reads" in result.stderr, result.stderr
    assert "hardware no target runs on" not in result.stderr and "extra_args" not in result.stderr


def test_the_runtime_env_page_is_current() -> None:
    page = Path("docs/runtime-env.md").read_text(encoding="utf-8")
    assert page == env_reference_markdown(), "run python -m slm_deploy.cli.env_reference > docs/runtime-env.md"


def test_every_flag_spelling_in_the_llamacpp_record_is_refused() -> None:
    names = [n for n in load_record("llamacpp").env if n.startswith("LLAMA_ARG_")]
    assert len(names) > 50
    assert all(refusal("llamacpp", name) for name in names)


@pytest.mark.parametrize("stack", GOLDEN_SPECS, ids=lambda p: p.stem)
def test_every_variable_slm_deploy_sets_is_refused_in_runtime_env(stack: Path) -> None:
    """The table is derived from what the adapters generate: a user variable can never clash at render."""
    deployment = load_deployment(stack)
    for service in plan_deployment(deployment).by_role("runtime"):
        for name, _ in service.env:
            if name in deployment.spec.runtime.env:
                continue
            assert refusal(deployment.spec.runtime.kind, name), f"{service.name} sets {name}"


ONNX_LOCAL = {**BASE, "runtime": {"kind": "onnxruntime"},
              "model": {"source": {"kind": "onnx", "path": "/srv/models/phi4"}, "parameters_billion": 3.8}}


@pytest.mark.parametrize("path", ["/", "/etc", "/var/run/docker.sock", "../../../..", "/srv/../etc",
                                  "models/phi4", "/home", "/root/models", "//etc", "//", "/var", "/var/lib/",
                                  "/home/alice", "/home/alice/models", "/home/alice/.ssh", "/home/alice/.docker",
                                  "/var/lib/containerd", "/var/lib/etcd", "/var/lib/rancher/k3s", "/var/log",
                                  "/var/spool/cron", "/lib64", "/tmp/models", "/opt/containerd", "/opt/cni/bin",
                                  "/srv", "/data/", "/mnt", "/opt/models", "/srv/models/.ssh", "/data/.aws/models",
                                  "/mnt/disk/.kube", "/srv/.config/models", "/srv/run/docker.sock",
                                  "/srv/models/../../home/alice", "/srv/" + "m" * 256])
def test_local_onnx_folder_that_check_would_flag_is_refused(path: str, tmp_path: Path) -> None:
    """Host folders are allowed from a list (inside /srv, /data, /mnt, /opt/models); hidden steps never."""
    spec = {**ONNX_LOCAL, "model": {**ONNX_LOCAL["model"], "source": {"kind": "onnx", "path": path}}}
    _refused(tmp_path, spec, "model.source.path", "must not mount", echoed=(path,) if ".." in path else ())


@pytest.mark.parametrize("path", ["../../../../etc", "cpu/../../x", "/cpu"])
def test_onnx_repository_folder_stays_inside_the_repository(path: str, tmp_path: Path) -> None:
    source = {"kind": "onnx", "repo": "microsoft/Phi-4-mini-instruct-onnx", "revision": "0" * 40, "path": path}
    spec = {**ONNX_LOCAL, "model": {**ONNX_LOCAL["model"], "source": source}}
    _refused(tmp_path, spec, "model.source.path", "inside the repository")


@pytest.mark.parametrize("folder", ["/srv/models/phi4", "/data/phi4", "/mnt/disk/models/phi4",
                                    "/opt/models/phi4/cpu", "//srv/models/phi4/"])
def test_local_onnx_folder_renders_and_checks_clean(folder: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    source = {"kind": "onnx", "path": folder}
    path.write_text(yaml.safe_dump({**ONNX_LOCAL, "model": {**ONNX_LOCAL["model"], "source": source},
                                    "targets": {"compose": {}}}), encoding="utf-8")
    out = tmp_path / "bundle"
    assert run_in_process("render", str(path), "--out", str(out)).code == 0
    result = run_in_process("check", str(out))
    assert result.code == 0, result.stdout


def test_llamacpp_flag_with_inline_value_is_refused(tmp_path: Path) -> None:
    """llama-server at the pinned build answers `--temp=0.5` with "invalid argument" (no splitting on =)."""
    _refused(tmp_path, _with("runtime.extra_args", ["--seed", "7", "--temp=0.5"]), "runtime.extra_args[2]",
             "does not split --flag=value", echoed=("0.5",))


def test_vllm_flag_with_inline_value_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_runtime("vllm", extra_args=["--max-num-batched-tokens=16384"])), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("target", ["docker", "compose"])
def test_bare_target_keys_turn_targets_on_with_their_defaults(target: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE) + f"targets:\n  {target}:\n", encoding="utf-8")
    out = tmp_path / "bundle"
    assert run_in_process("render", str(path), "--out", str(out)).code == 0
    assert (out / "compose" / "compose.yaml").is_file() == (target == "compose")
    assert list((out / "docker").iterdir())  # Compose builds from the same contexts
    result = run_in_process("check", str(out))
    assert result.code == 0, result.stdout


def test_no_target_at_all_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, {**BASE, "targets": {}}, "targets", "turns no target on")


def _modelfile(parameters: dict[str, Any]) -> dict[str, Any]:
    return _runtime("ollama", modelfile={"parameters": parameters})


@pytest.mark.parametrize(("parameters", "words", "allowed"), [
    ({"temperature": 0.7, "tokencanary": "x"}, "not a parameter Ollama knows", "temperature"),
    ({"temperature": 0.7, "zz-Canary Key": 1}, "not a parameter Ollama knows", "top_k"),
    ({"temperature": "hot"}, "must be a number", "a number"),
    ({"num_predict": 1.5}, "must be an integer", "an integer"),
    ({"seed": 1, "use_mmap": "yes"}, "must be true or false", "true or false"),
    ({"num_ctx": 131072}, "is set from model.context_length", "model.context_length"),
])
def test_modelfile_parameters_follow_ollamas_table(parameters: dict[str, Any], words: str, allowed: str,
                                                   tmp_path: Path) -> None:
    name = list(parameters)[-1]  # the refused parameter sorts last in each case (the spec is written sorted)
    assert sorted(parameters)[-1] == name
    shown = name if name in OLLAMA_PARAMETERS else f"<key {len(parameters)}>"  # a name Ollama knows is shown
    _refused(tmp_path, _modelfile(parameters), f"runtime.modelfile.parameters.{shown}", words,
             echoed=("tokencanary", "hot", "Canary", "String should", "pattern"))


ENGINE_IGNORED = {  # parameters only Ollama's llama.cpp runner reads, on models its own engine runs (v0.24.0)
    "repeat penalty on Qwen3": ("qwen3-1.7b", {}, "repeat_penalty", 1.1),
    "typical_p on Gemma 3": ("gemma-3-1b-it", {}, "typical_p", 0.9),
    "presence penalty on Qwen3 by its library tag": ("qwen3:4b", {}, "presence_penalty", 0.5),
    "frequency penalty on Gemma 3": ("gemma-3-4b-it", {}, "frequency_penalty", 0.5),
    "repeat window on Qwen3": ("qwen3-0.6b", {}, "repeat_last_n", 64),
    "memory mapping on Qwen3": ("qwen3-8b", {}, "use_mmap", False),
    "repeat penalty on Llama 3.2 with the new engine switched on": ("llama-3.2-1b-instruct",
                                                                    {"OLLAMA_NEW_ENGINE": "true"}, "repeat_penalty", 1.1),
}


@pytest.mark.parametrize("case", sorted(ENGINE_IGNORED))
def test_modelfile_parameters_the_ollama_engine_ignores_are_refused(case: str, tmp_path: Path) -> None:
    model, env, name, value = ENGINE_IGNORED[case]
    spec = _runtime("ollama", env=env, modelfile={"parameters": {name: value, "temperature": 0.5}})
    spec["model"] = ({"source": {"kind": "ollama", "tag": model}, "parameters_billion": 4.0} if ":" in model
                     else {"id": model})
    _refused(tmp_path, spec, f"runtime.modelfile.parameters.{name}", "models on its own engine")


@pytest.mark.parametrize("model", ["llama-3.2-1b-instruct", "phi-4-mini-instruct", "deepseek-r1-distill-qwen-1.5b"])
def test_penalties_are_kept_for_models_the_llamacpp_runner_serves(model: str, tmp_path: Path) -> None:
    """Llama, Phi 3 and Qwen 2 run on the llama.cpp runner, which reads every penalty (Phi 3 even with the new
    engine switched on, which does not implement it)."""
    parameters = {"repeat_penalty": 1.1, "typical_p": 0.9, "presence_penalty": 0.5, "repeat_last_n": 64}
    env = {"OLLAMA_NEW_ENGINE": "true"} if model.startswith("phi") else {}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**_runtime("ollama", env=env, modelfile={"parameters": parameters}),
                                    "model": {"id": model}}), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(tmp_path / "bundle"))
    assert result.code == 0, result.stderr


def test_modelfile_parameters_reach_the_modelfile(tmp_path: Path) -> None:
    from slm_deploy.runtimes.ollama import modelfile_text
    from slm_deploy.spec.loader import parse_deployment

    spec = _modelfile({"temperature": 0.5, "use_mmap": False, "stop": "END", "num_thread": 2})
    spec["model"] = {"source": {"kind": "ollama", "tag": "llama3.2:1b"}, "parameters_billion": 1.2}
    text = modelfile_text(parse_deployment(spec))
    assert text.splitlines()[1:] == ["PARAMETER num_ctx 8192", "PARAMETER num_thread 2", "PARAMETER stop END",
                                     "PARAMETER temperature 0.5", "PARAMETER use_mmap false"]


KEY_VAULT = {"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47", "secrets_expire_on": "2027-06-30"}


def _key_vault(**vault: Any) -> dict[str, Any]:
    spec = {**BASE, "targets": {"aks": {}, "docker": {"registry": "acr.azurecr.io"}},
            "secrets": {"api-keys": {"backend": "azure-key-vault", "vault": "kv-one"}},
            "secret_stores": {"azure_key_vaults": {"kv-one": {**KEY_VAULT, **vault}}}}
    return spec


VALUE_CASES = {
    "ingress host is an IP address": (
        {**BASE, "exposure": {"mode": "ingress", "host": "10.0.0.1"},
         "targets": {"kubernetes": {}, "docker": {"registry": "registry.example.com"}}},
        "exposure.host", "is an IP address"),
    "ingress host ends in a numeric label": (
        {**BASE, "exposure": {"mode": "ingress", "host": "dev.10.0.0.1"},
         "targets": {"kubernetes": {}, "docker": {"registry": "registry.example.com"}}},
        "exposure.host", "numeric label"),
    "registry is a dash": (_with("targets", {"docker": {"registry": "-"}}), "targets.docker.registry", "allowed form"),
    "registry is dots": (_with("targets", {"docker": {"registry": ".."}}), "targets.docker.registry", "allowed form"),
    "registry port out of range": (_with("targets", {"docker": {"registry": "r.example.com:99999"}}),
                                   "targets.docker.registry", "port outside 1-65535"),
    "mirror label ends in a dash": (_with("security", {"registry_mirror": "mirror-.example.com"}),
                                    "security.registry_mirror", "allowed form"),
    "a billionth of a CPU": (_with("resources.cpu", 1e-9), "resources.cpu", "out of range"),
    "CPU finer than millicores": (_with("resources.cpu", 0.5004), "resources.cpu", "three decimals"),
    "key vault expiry in the past": (_key_vault(secrets_expire_on="2001-01-01"),
                                     "secrets_expire_on", "an expired secret cannot be read"),
    "key vault expiry absurdly far": (_key_vault(secrets_expire_on="9999-12-31"),
                                      "secrets_expire_on", "never reviewed"),
    "key vault open to the internet": (_key_vault(allowed_ip_ranges=["203.0.113.0/24", "0.0.0.0/0"]),
                                       "allowed_ip_ranges[1]", "large part of the internet"),
    "vLLM batch below the context without chunked prefill": (
        _runtime("vllm", extra_args=["--no-enable-chunked-prefill", "--max-num-batched-tokens", "16"]),
        "runtime.extra_args[1]", "below the context length"),
}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_values_that_cannot_work_are_refused(case: str, tmp_path: Path) -> None:
    spec, field, words = VALUE_CASES[case]
    _refused(tmp_path, spec, field, words, echoed=("99999", "9999-12-31", "2001-01-01", "10.0.0.1"))


def test_lone_surrogate_names_its_field(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE).replace("name: demo", 'name: "demo\\ud800"'), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"{path}:" in result.stderr and ": name: holds an escape that is not a Unicode character" in result.stderr
    assert "  allowed: " in result.stderr and "Invalid JSON" not in result.stderr


def test_union_of_plain_types_gives_one_message_without_member_names(tmp_path: Path) -> None:
    spec = _modelfile({"temperature": {"hot": 1}})
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2
    assert result.stderr.count("runtime.modelfile.parameters.temperature") == 1, result.stderr
    for member in (".float", ".int", ".bool", "constrained-str", ".str", "list["):
        assert member not in result.stderr
    assert "allowed: true or false, an integer, a number, text, a list of texts" in result.stderr


def test_type_errors_say_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_with("serving.replicas", "two")), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "serving.replicas: must be an integer (got a string)\n  allowed: an integer" \
        in result.stderr, result.stderr


def test_catalogue_model_without_a_source_for_the_runtime_lists_the_ids_that_have_one(tmp_path: Path) -> None:
    from slm_deploy.spec.catalogue import catalogue

    missing = sorted(e.id for e in catalogue().values() if e.onnx is None)
    assert missing, "the case needs a catalogue model without an ONNX source"
    spec = {**BASE, "runtime": {"kind": "onnxruntime"}, "model": {"id": missing[0]}}
    _refused(tmp_path, spec, "model.id", "no pinned onnxruntime source")


@pytest.mark.parametrize(("section", "mapping", "words"), [
    ("monitoring", {"selector_labels": {"Bad Canary!": "x"}}, "a Kubernetes label key"),
    ("security", {"base_images": {"Canary_Row": "x"}}, "a row name of the pins table"),
])
def test_a_bad_key_is_told_the_form_keys_take_in_words(section: str, mapping: dict[str, Any], words: str,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**BASE, section: mapping}), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and f"{section}.{next(iter(mapping))}: has a key that is not allowed" in result.stderr
    assert f"allowed: keys of {words}" in result.stderr, result.stderr
    assert "Canary" not in result.stderr and "String should" not in result.stderr
