"""Pass-through flags and Modelfile parameters that each pass their own check but, together or against the sizing,
stop the runtime at start or are silently lowered by it: refused at validate.

Each rule cites the code at the pinned version that would stop the server or change the value, so a refusal here
is never stricter than the runtime. They run after sizing, since most compare a value with the sized context or
concurrency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.resolve import ResolvedModel
from slm_deploy.spec.runtime_options import LlamaCppOptions, OllamaOptions
from slm_deploy.spec.sizing import Sizing

QUANTISED_CACHE_TYPES = ("q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")
"""llama.cpp KV-cache types ggml_is_quantized() is true for (f16 and bf16 are not)."""
LLAMACPP_DEFAULT_BATCH = 2048
"""common_params.n_batch in common/common.h: the logical batch when --batch-size is not given."""


def last_flag(args: list[str], *flags: str) -> tuple[int, str, str] | None:
    """(index, flag, value) of the last of `flags` in `args`, as argparse and llama-server read them (last wins);
    the value is the inline `=value`, else the next token, else empty."""
    found = None
    for index, token in enumerate(args):
        flag, has_inline, inline = token.partition("=")
        if flag in flags:
            found = (index, flag, inline if has_inline else (args[index + 1] if index + 1 < len(args) else ""))
    return found


def _vllm_problems(args: list[str], sizing: Sizing) -> list[Problem]:
    problems = []
    auto_tools = last_flag(args, "--enable-auto-tool-choice")
    # vllm/entrypoints/openai/cli_args.py, validate_parsed_serve_args: "--enable-auto-tool-choice requires
    # --tool-call-parser" (a TypeError before the model loads).
    if auto_tools is not None and last_flag(args, "--tool-call-parser") is None:
        problems.append(Problem(f"runtime.extra_args[{auto_tools[0]}]", "needs a tool-call parser: vLLM refuses "
                                "to start with --enable-auto-tool-choice alone",
                                allowed="--enable-auto-tool-choice together with --tool-call-parser and a parser "
                                        "name"))
    budget = last_flag(args, "--max-num-batched-tokens")
    if budget is None or not budget[2].isdigit():
        return problems
    index, tokens = budget[0], int(budget[2])
    chunked = last_flag(args, "--enable-chunked-prefill", "--no-enable-chunked-prefill")
    # vllm/config/scheduler.py, SchedulerConfig.verify_max_model_len: without chunked prefill the budget must hold
    # max_model_len; it must always hold max_num_seqs. Either failure is a ValueError at start.
    if chunked is not None and chunked[1] == "--no-enable-chunked-prefill" and tokens < sizing.context_length:
        problems.append(Problem(f"runtime.extra_args[{index}]", "is below the context length while "
                                "--no-enable-chunked-prefill makes every prompt one batch",
                                allowed=f"at least {sizing.context_length} (the sized context), or keep chunked "
                                        "prefill on"))
    elif tokens < sizing.concurrency:
        problems.append(Problem(f"runtime.extra_args[{index}]", "is below the number of concurrent sequences "
                                "(vLLM's --max-num-seqs, from serving.concurrency); vLLM refuses to start",
                                allowed=f"at least {sizing.concurrency} (the sized concurrency)"))
    return problems


def _llamacpp_batch_problems(args: list[str], sizing: Sizing) -> list[Problem]:
    """src/llama-context.cpp, llama_context's constructor: n_batch = min(n_ctx, --batch-size) for causal models and
    n_ubatch = min(n_batch, --ubatch-size); a larger value is lowered without a word, so it is refused."""
    context = sizing.context_length * sizing.concurrency  # --ctx-size: every slot's context
    problems, batch = [], last_flag(args, "--batch-size")
    logical = min(int(batch[2]) if batch and batch[2].isdigit() else LLAMACPP_DEFAULT_BATCH, context)
    if batch and batch[2].isdigit() and int(batch[2]) > context:
        problems.append(Problem(f"runtime.extra_args[{batch[0]}]", "is larger than the context llama.cpp is given "
                                "(--ctx-size, the sized context times the slots); llama.cpp silently lowers it to that",
                                allowed=f"1 to {context}"))
    micro = last_flag(args, "--ubatch-size")
    if micro and micro[2].isdigit() and int(micro[2]) > logical:
        problems.append(Problem(f"runtime.extra_args[{micro[0]}]", "is larger than the logical batch (--batch-size, "
                                f"{LLAMACPP_DEFAULT_BATCH} unless given, at most the context); llama.cpp silently "
                                "lowers it to that", allowed=f"1 to {logical}"))
    return problems


def _integer(parameters: Mapping[str, object], name: str) -> int | None:
    value = parameters.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ollama_gpu_problems(parameters: Mapping[str, object], model: ResolvedModel, gpus: int) -> list[Problem]:
    """llm/server.go at the pinned tag: num_gpu places layers on GPUs and main_gpu picks the GPU (used when above 0)
    for the llama runner, so without a GPU Ollama never reads either; any negative num_gpu is automatic, assignLayers
    lowers a larger count to the model's blocks plus the output layer (BlockCount() + 1) without a word, and the
    container sees exactly the GPUs resources.gpu.count asks for."""
    problems, path = [], "runtime.modelfile.parameters."
    num_gpu, main_gpu = _integer(parameters, "num_gpu"), _integer(parameters, "main_gpu")
    for name in ("num_gpu", "main_gpu"):
        if _integer(parameters, name) is not None and not gpus:
            problems.append(Problem(path + name, "places work on a GPU, but resources.gpu is not set: Ollama runs on "
                                    "the CPU and never reads it", allowed=f"no {name} without resources.gpu",
                                    hint="remove it, or set resources.gpu"))
    if num_gpu is not None and gpus and not -1 <= num_gpu <= model.architecture.layers + 1:
        problems.append(Problem(path + "num_gpu", "is beyond what the model has: Ollama lowers it to the model's "
                                "layers (and any negative value means automatic)",
                                allowed=f"-1 (automatic) or 0 to {model.architecture.layers + 1} (the model's "
                                        f"{model.architecture.layers} layers and its output layer)"))
    if main_gpu is not None and gpus and not 0 <= main_gpu < gpus:
        problems.append(Problem(path + "main_gpu", "is not one of the GPUs the container is given (numbered from 0, "
                                "resources.gpu.count of them)", allowed=f"0 to {gpus - 1}"))
    return problems


def _ollama_problems(runtime: OllamaOptions, sizing: Sizing) -> list[Problem]:
    """llm/server.go at the pinned tag: a quantised OLLAMA_KV_CACHE_TYPE without flash attention is dropped for f16
    with a warning; opts.NumBatch = min(opts.NumBatch, opts.NumCtx), and num_ctx is the sized context; a batch
    below 1 leaves the runner no batch to fill."""
    problems = []
    if runtime.kv_cache_type != "f16" and not runtime.flash_attention:
        problems.append(Problem("runtime.kv_cache_type", "is quantised while runtime.flash_attention is false; "
                                "Ollama then drops it and keeps an f16 cache",
                                allowed="f16 with flash attention off, or runtime.flash_attention: true"))
    value = runtime.modelfile.parameters.get("num_batch") if runtime.modelfile is not None else None
    if not isinstance(value, int) or isinstance(value, bool) or 1 <= value <= sizing.context_length:
        return problems
    return problems + [Problem("runtime.modelfile.parameters.num_batch", "is outside 1 to the context Ollama is given (num_ctx, "
                    "from model.context_length); Ollama lowers a larger batch to it without a word",
                    allowed=f"an integer from 1 to {sizing.context_length}")]


def _llamacpp_problems(runtime: LlamaCppOptions, args: list[str]) -> list[Problem]:
    cache_v = last_flag(args, "--cache-type-v")
    # src/llama-context.cpp, llama_init_from_model: "V cache quantization requires flash_attn" when flash attention
    # is disabled (no context, the model never loads); with auto, the context constructor throws instead if flash
    # attention turns out unavailable, which only the hardware decides.
    if cache_v is None or cache_v[2] not in QUANTISED_CACHE_TYPES or runtime.flash_attn != "off":
        return []
    return [Problem(f"runtime.extra_args[{cache_v[0]}]", "quantises the V cache while runtime.flash_attn is off; "
                    "llama.cpp refuses to create the context",
                    allowed="--cache-type-v f16 or bf16 with flash attention off, or runtime.flash_attn: on or auto")]


def _thread_problems(spec: DeploymentSpec, args: list[str], parameters: Mapping[str, object]) -> list[Problem]:
    """Threads beyond the CPUs the container may use (resources.cpu) only take turns, and each is a process the
    container's pids limit counts (512 on Compose): llama.cpp starts one worker per --threads-batch thread for every
    batch (ggml-cpu), Ollama as many as num_thread asks."""
    cpus = max(1, math.ceil(spec.resources.cpu))
    allowed = f"at most {cpus}, the CPUs resources.cpu gives the container (raise resources.cpu for more)"
    found = []
    batch = last_flag(args, "--threads-batch")
    if batch is not None and batch[2].isdigit() and int(batch[2]) > cpus:
        found.append(Problem(f"runtime.extra_args[{batch[0]}]", "asks for more threads than resources.cpu gives the "
                             "container", allowed=allowed))
    threads = _integer(parameters, "num_thread")
    if threads is not None and threads > cpus:
        found.append(Problem("runtime.modelfile.parameters.num_thread", "asks for more threads than resources.cpu "
                             "gives the container", allowed=f"0 (Ollama's default) or {allowed}"))
    return found


def combination_problems(spec: DeploymentSpec, model: ResolvedModel, sizing: Sizing) -> list[Problem]:
    """Problems of pass-through flags and Modelfile parameters taken together and against the model and sizing."""
    runtime = spec.runtime
    args = list(getattr(runtime, "extra_args", []))
    if runtime.kind == "vllm":
        return _vllm_problems(args, sizing)
    if isinstance(runtime, LlamaCppOptions):
        return (_llamacpp_problems(runtime, args) + _llamacpp_batch_problems(args, sizing)
                + _thread_problems(spec, args, {}))
    if isinstance(runtime, OllamaOptions):
        parameters = runtime.modelfile.parameters if runtime.modelfile is not None else {}
        return (_ollama_problems(runtime, sizing)
                + _ollama_gpu_problems(parameters, model, spec.resources.gpu.count if spec.resources.gpu else 0)
                + _thread_problems(spec, [], parameters))
    return []
