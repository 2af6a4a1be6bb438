"""Memory sizing: weights plus KV cache plus runtime overhead, checked against what the spec gives."""

from __future__ import annotations

import math
from dataclasses import dataclass

from slm_deploy.errors import FitError, Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.model_section import Quantisation
from slm_deploy.spec.quantity import GIB, MIB, human_gib, parse_bytes
from slm_deploy.spec.resolve import ResolvedModel
from slm_deploy.spec.sections import GpuType
from slm_deploy.spec.present import gpu_of

BYTES_PER_WEIGHT = {
    Quantisation.F16: 2.0,
    Quantisation.BF16: 2.0,
    Quantisation.Q8_0: 8.5 / 8,
    Quantisation.Q4_K_M: 4.85 / 8,
    Quantisation.AWQ: 4.5 / 8,
    Quantisation.GPTQ: 4.5 / 8,
    Quantisation.INT4: 4.5 / 8,
    Quantisation.F32: 4.0,
}
"""Average bytes per parameter, including quantisation scales."""
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 1.0625, "q4_0": 0.5625}
GPU_MEMORY = {
    GpuType.T4: 16 * GIB, GpuType.L4: 24 * GIB, GpuType.A10: 24 * GIB,
    GpuType.A100_40: 40 * GIB, GpuType.A100_80: 80 * GIB, GpuType.H100: 80 * GIB,
}
HOST_OVERHEAD = {"vllm": 4 * GIB, "ollama": 1 * GIB, "llamacpp": GIB // 2, "onnxruntime": 1 * GIB, "foundry-local": 2 * GIB,
                 "mlx": 1 * GIB}
"""Resident memory of the server process besides weights and KV cache (CPU serving)."""
VLLM_API_SERVER_BYTES = 3 * GIB // 2
"""vLLM's API server process: Python, torch, the tokenizer and FastAPI, without a CUDA context."""
VLLM_GPU_PROCESS_BYTES = 3 * GIB
"""Each process that drives a GPU (the engine core, or one worker per GPU under tensor parallelism): torch with
its CUDA libraries and context, NCCL, and the executor's buffers."""
LOAD_STAGING_FRACTION = 4
"""Weights pass through host memory on their way to the GPU (safetensors shards read and copied tensor by
tensor); a quarter of the weights covers the largest tensors plus the page cache the copy keeps hot."""
GPU_OVERHEAD = 3 * GIB // 2
"""CUDA context, activations and graphs on each GPU deployment."""
DEFAULT_GPU_UTILISATION = 0.90
OTHER_GPU_UTILISATION = 0.95
HEADROOM = 1.2
DEFAULT_GPU_CONCURRENCY = 16
DEFAULT_CPU_CONCURRENCY = 4
STARTUP_BASE_SECONDS = 15 * 60
STARTUP_SECONDS_PER_GIB = 18
TIERS = (("micro", 0.1, 1.5), ("small", 1.5, 14.0), ("medium", 14.0, 30.01))


@dataclass(frozen=True)
class Sizing:
    """Every number the adapters and renderers take from the model's size."""

    tier: str
    weights_bytes: int
    kv_cache_bytes: int
    kv_bytes_per_token: int
    concurrency: int
    context_length: int
    host_memory_bytes: int
    """Memory limit (and request) per replica."""
    gpu_memory_needed_bytes: int
    gpu_memory_utilisation: float | None
    shm_bytes: int
    startup_budget_seconds: int
    cache_volume_bytes: int
    preparation_memory_bytes: int
    """Memory limit (and request) of model preparation's conversion; 0 without model.prepare."""


def preparation_memory_bytes(model: ResolvedModel) -> int:
    """The converters hold the 16-bit weights and write the output beside them: twice the f16 size, plus 1 GiB."""
    return int(model.parameters_billion * 1e9 * 2 * 2) + GIB if model.prepare else 0


def preparation_scratch_bytes(model: ResolvedModel) -> int:
    """What model preparation holds beside the result on the model volume: the 16-bit checkpoint and a 16-bit
    intermediate (the f16 GGUF llama-quantize reads, or the model builder's cache)."""
    return math.ceil(2 * model.parameters_billion * 1e9 * BYTES_PER_WEIGHT[Quantisation.F16]) if model.prepare else 0


def tier_of(parameters_billion: float) -> str:
    """Name the size class (micro 0.1-1.4B, small 1.5-13.9B, medium 14-30B)."""
    for name, low, high in TIERS:
        if low <= parameters_billion < high:
            return name
    return "micro" if parameters_billion < 0.1 else "medium"


def startup_budget(weights_bytes: int) -> int:
    """15 minutes plus 18 seconds per GiB of weights: long enough to download and load."""
    return STARTUP_BASE_SECONDS + math.ceil(STARTUP_SECONDS_PER_GIB * weights_bytes / GIB)


def gpu_host_memory(runtime: str, weights: int, gpus: int, shm: int) -> int:
    """Host memory of a GPU deployment: the processes the runtime starts, load staging, and /dev/shm.

    vLLM's V1 engine runs an API server process and an engine-core process (plus one worker process per GPU
    when tensor parallelism spreads the model), each importing torch; /dev/shm is a memory-backed volume
    charged to the same limit. Other runtimes run one server process."""
    staging = weights // LOAD_STAGING_FRACTION
    if runtime == "vllm":
        return VLLM_API_SERVER_BYTES + gpus * VLLM_GPU_PROCESS_BYTES + staging + shm
    return HOST_OVERHEAD[runtime] + staging + shm


def _kv_element_bytes(spec: DeploymentSpec) -> float:
    kv_type = getattr(spec.runtime, "kv_cache_type", "f16")
    return KV_BYTES_PER_ELEMENT[kv_type]


def _gpu_fit_problem(spec: DeploymentSpec, model: ResolvedModel, need: int, available: int,
                     util: float, kv_per_seq: int, concurrency: int) -> Problem:
    gpu = gpu_of(spec)
    short = need - available
    bigger = [t.value for t, mem in GPU_MEMORY.items() if mem * gpu.count * util >= need]
    return Problem(
        "resources.gpu",
        f"the model ({model.quantisation.value}, context {model.context_length} x {concurrency} "
        f"sequences) needs {human_gib(need)} of GPU memory; {gpu.count} x {gpu.type.value} at "
        f"{util:.2f} utilisation gives {human_gib(available)}: short by {human_gib(short)}",
        allowed=", ".join(bigger) if bigger else "no single-node GPU type in the table fits",
        hint=f"lower serving.concurrency (each sequence costs {human_gib(kv_per_seq)}), "
             "lower model.context_length, use a smaller quantisation, or add GPUs",
    )


def size(spec: DeploymentSpec, model: ResolvedModel) -> Sizing:
    """Fill defaults from the model's size, or raise FitError saying by how much it misses."""
    runtime = spec.runtime.kind
    gpu = spec.resources.gpu
    weights = math.ceil(model.parameters_billion * 1e9 * BYTES_PER_WEIGHT[model.quantisation])
    arch = model.architecture
    kv_per_token = math.ceil(2 * arch.layers * arch.kv_heads * arch.head_dim * _kv_element_bytes(spec))
    kv_per_seq = kv_per_token * model.context_length
    problems: list[Problem] = []
    util = None
    gpu_need = 0
    default_shm = 2 * GIB if runtime == "vllm" else 64 * MIB
    shm = parse_bytes(spec.resources.shm_size) if spec.resources.shm_size else default_shm
    concurrency = spec.serving.concurrency or DEFAULT_CPU_CONCURRENCY
    if gpu:
        util = getattr(spec.runtime, "gpu_memory_utilization", None) or (
            DEFAULT_GPU_UTILISATION if runtime == "vllm" else OTHER_GPU_UTILISATION)
        available = int(GPU_MEMORY[gpu.type] * gpu.count * util)
        # By default serve as many full-context sequences as fit, up to 16; an explicit number is checked.
        fitting = (available - weights - GPU_OVERHEAD * gpu.count) // kv_per_seq
        concurrency = spec.serving.concurrency or max(1, min(DEFAULT_GPU_CONCURRENCY, fitting))
        gpu_need = weights + kv_per_seq * concurrency + GPU_OVERHEAD * gpu.count
        if gpu_need > available:
            problems.append(_gpu_fit_problem(spec, model, gpu_need, available, util, kv_per_seq, concurrency))
        host_need = gpu_host_memory(runtime, weights, gpu.count, shm)
    else:
        host_need = HOST_OVERHEAD[runtime] + weights + kv_per_seq * concurrency + shm
    kv_total = kv_per_seq * concurrency
    default_limit = math.ceil(host_need * HEADROOM / GIB) * GIB
    if spec.resources.memory is not None:
        limit = parse_bytes(spec.resources.memory)
        if limit < host_need:
            problems.append(Problem(
                "resources.memory",
                f"is below the {human_gib(host_need)} this deployment needs "
                f"(weights {human_gib(weights)}, KV cache {human_gib(kv_total if not gpu else 0)}, "
                f"runtime {human_gib(HOST_OVERHEAD[runtime])}): short by {human_gib(host_need - limit)}",
                allowed=f"at least {math.ceil(host_need / GIB)}Gi",
                hint="raise resources.memory, or lower serving.concurrency, model.context_length or the quantisation",
            ))
    else:
        limit = default_limit
    held = weights + preparation_scratch_bytes(model)
    cache = (parse_bytes(spec.targets.kubernetes.cache_size)
             if spec.targets.kubernetes and spec.targets.kubernetes.cache_size
             else max(5 * GIB, math.ceil(2 * held / GIB) * GIB))
    if cache < held:
        what = "weights and the checkpoint they are prepared from" if model.prepare else "weights"
        problems.append(Problem("targets.kubernetes.cache_size", f"cannot hold the {human_gib(held)} of {what}",
                                allowed=f"at least {math.ceil(held / GIB)}Gi (the default is twice that)",
                                hint="raise it, or leave it unset"))
    need = startup_budget(weights)
    if spec.serving.startup_budget_seconds is not None and spec.serving.startup_budget_seconds < need:
        problems.append(Problem("serving.startup_budget_seconds", "is shorter than the model needs to download "
                                "and load (15 minutes plus 18 seconds per GiB of weights; slm-serving-005)",
                                allowed=f"at least {need}, or unset for exactly that",
                                hint="raise it to wait longer for a slow download; it cannot go below the need"))
    if problems:
        raise FitError(problems)
    budget = spec.serving.startup_budget_seconds or need
    return Sizing(
        tier=tier_of(model.parameters_billion),
        weights_bytes=weights,
        kv_cache_bytes=kv_total,
        kv_bytes_per_token=kv_per_token,
        concurrency=concurrency,
        context_length=model.context_length,
        host_memory_bytes=limit,
        gpu_memory_needed_bytes=gpu_need,
        gpu_memory_utilisation=util,
        shm_bytes=shm,
        startup_budget_seconds=budget,
        cache_volume_bytes=cache,
        preparation_memory_bytes=preparation_memory_bytes(model),
    )
