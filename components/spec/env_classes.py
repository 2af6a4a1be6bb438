"""The launch-environment table: variable names slm-deploy gives meaning to, and the classes of names it refuses.

Standard library only, so the policy pack's serving rules judge a rendered launch by the same table the spec's
validation of `runtime.env` applies, without loading the spec's models (slm_deploy.spec.launch_env says why
each class is refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRUST_REMOTE_CODE_ENV = "VLLM_TRUST_REMOTE_CODE"
"""vLLM's environment spelling of --trust-remote-code."""
SLOTS_ENV = "LLAMA_ARG_ENDPOINT_SLOTS"
NO_SLOTS_ENV = "LLAMA_ARG_NO_ENDPOINT_SLOTS"
METRICS_ENV = "LLAMA_ARG_ENDPOINT_METRICS"
"""llama.cpp's environment spellings of --slots, --no-slots and --metrics."""

FLAG_PREFIXES = {"llamacpp": "LLAMA_ARG_"}
"""Runtimes that read their command-line flags from variables with this prefix."""


@dataclass(frozen=True)
class EnvClass:
    """A class of refused names: what matches it and why it is refused."""

    expression: str
    reason: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The expression compiled on first use (re caches it): only a spec that sets variables pays for the table."""
        return re.compile(self.expression)


LOADER = EnvClass(
    (r"^(LD_|DYLD_|PYTHON|PERL|RUBY|NODE_|GCONV_|MALLOC_|GLIBC_|BASH_ENV$|ENV$|IFS$|SHELL$|PATH$|"
     r"USER$|LOGNAME$|OPENSSL_|SSL_CERT_|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$|CONDA_|PROGRAMFILES$|"
     r"SYSTEMROOT$)|(_EDITOR$|_LIBRARY$|_LIBRARIES$)"),
    "changes what the process loads, trusts or runs as (loader, interpreter, library, editor, user or CA "
    "variables)")
NETWORK = EnvClass(
    (r"(PROXY$|_ENDPOINT|_URL$|_HOST$|_HOSTNAME$|_HOST_IP$|_IP$|_ADDRESS$|_ORIGINS$|_PORT$|_REMOTES$|"
     r"_REPOSITORY$|_REPO_LIST$|^HF_HUB_OFFLINE$|^TRANSFORMERS_OFFLINE$|_PLUGINS$|MODELSCOPE|^RAY_|_RAY_|"
     r"_IPS$|_NIC_|^S3_|^AWS_|^VLLM_MEDIA_URL_|^GGML_RDMA_|^GGML_REMOTING_|MOONCAKE|NIXL|LMCACHE|_SEGMENT$)"),
    "changes where the server listens or connects (hosts, ports, proxies, hub endpoints, remotes, plugins, "
    "other nodes, KV-cache transfer stores and their segments)")
FILES = EnvClass(
    (r"(^HOME$|^XDG_|^TMPDIR$|^TEMP$|^TMP$|APPDATA$|_HOME$|_CACHE|_DIR$|_ROOT$|_PATH$|_FILE$|"
     r"_MODELS$|_NOPRUNE$|_FOLDER$|_DIRECTORY$)"),
    "points the server at files; slm-deploy sets the writable cache paths itself (the root file system is "
    "read-only)")
JSON_OR_FILE = ("is read as the path of a JSON file to open, or else as JSON text; a path is refused (the root file "
                "system is read-only) and a bad document stops the server at start")
"""Why a variable the record types json-or-file (vLLM's maybe_convert_json_str_or_file) is refused."""
IGNORED = "ignored"
"""The record's kind for a variable whose reader returns nothing whatever its value (a renamed one kept to warn)."""
UNSAFE = EnvClass(
    (r"(TRUST_REMOTE_CODE|^VLLM_ALLOW_|INSECURE|_DEV_MODE$|DEBUG_LOG|LOG_REQUESTS|LOG_API_SERVER|"
     r"^VLLM_SERVER_DEV|NO_USAGE_STATS|DO_NOT_TRACK|TELEMETRY|USAGE_STATS|^VLLM_USAGE_|^SLM_|"
     r"_SKIP_\w*(VALIDATION|CHECKS?)$|KEEP_ALIVE_ON_|_RESPONSES_API_STORE$)"),
    "weakens the deployment or is set by slm-deploy (remote code, runtime updates, request logging, "
    "telemetry, skipped validation or checks, a server kept up after its engine died, a store that keeps "
    "every response in memory without bound, this project's own server settings)")
GPU_SELECTION = EnvClass(
    (r"(_VISIBLE_DEVICES$|^NVIDIA_|DEVICE_ORDINAL$|^CUDA_DEVICE_ORDER$|^HSA_OVERRIDE_|"
     r"^ONEAPI_DEVICE_SELECTOR$|^GGML_[A-Z]+_DEVICES?$|_BACKEND_DEVICE$|_PLATFORMS?$|^(LOCAL_)?RANK$|"
     r"_RANK(_LOCAL)?$|_DP_SIZE$|WORLD_SIZE$|_PP_LAYER_PARTITION$)"),
    "selects or overrides the GPUs the server sees or how the model is split over them; the device plugin "
    "(Kubernetes) or the device reservation (Compose) hands the container the GPUs resources.gpu asks for, and "
    "slm-deploy sets the parallelism from that count (no pipeline stages, whose layer partition vLLM checks at "
    "every start)")
OTHER_HARDWARE = EnvClass(
    (r"(^HIP_|_HIP|^ROCR_|ROCM|^HSA_|AITER|^CCL_|_AMD_|_AMD$|^AMD_|XPU|SYCL|ONEAPI|^ZE_|NEURON|^TPU_|"
     r"_TPU_|^XLA_|_XLA_|PJRT|^HPU_|_HPU_|HABANA|GAUDI|METAL|_VK_|VULKAN|_CANN_|ASCEND|MUSA|OPENCL|KOMPUTE|"
     r"_MPS_|HEXAGON|SPACEMIT|ZENDNN|^GGML_ET_|KLEIDIAI|^GGML_TOTAL_THREADS$)"),
    "tunes a backend for hardware no target runs on (AMD ROCm/HIP/AITER, Intel XPU/SYCL/oneCCL, AWS Neuron, "
    "Google TPU/XLA, Intel Gaudi, Apple Metal, Vulkan, OpenCL, Huawei CANN, Qualcomm Hexagon, SpacemiT RISC-V, AMD "
    "ZenDNN, Esperanto ET-SoC, Arm KleidiAI kernels, which llama.cpp's images never compile in); the images run on "
    "NVIDIA GPUs (CUDA) or x86-64 CPUs with the runtimes' default backends")
"""llama.cpp reads GGML_TOTAL_THREADS only in its KleidiAI kernels (ggml-cpu/kleidiai), built only with the
GGML_CPU_KLEIDIAI cmake option, which is off by default and which upstream's .devops Dockerfiles never set."""
UNUSED_PARTS = {
    "vllm": EnvClass(r"^VLLM_CPU_|ZENTORCH", "tunes vLLM's CPU backend (and its zentorch plugin); the "
                                                          "vLLM image runs on NVIDIA GPUs (resources.gpu), never on CPUs"),
    "llamacpp": EnvClass(r"^KMP_", "is read only by LLVM's and Intel's OpenMP runtimes; llama.cpp's "
                                               "images are built with gcc and link GNU libgomp, which never reads it"),
}
"""Per runtime: parts it has (a backend, another OpenMP runtime's settings) that the image slm-deploy runs never
uses."""
OWN_PREFIXES = {"vllm": "VLLM_"}
"""Per runtime: the prefix of the variables it parses itself. vLLM reads others (OMP_NUM_THREADS,
PYTORCH_CUDA_ALLOC_CONF, NCCL_*) only to hand them to a library; unless its record types the value, a value is
refused as one nothing here checks."""
UNCHECKED_READER = ("is read by {runtime} only to hand to a library (PyTorch, NCCL, OpenMP, cuBLAS and others) that "
                    "parses it at start, and slm-deploy has no record of how; a value it cannot parse would stop the "
                    "server or be read as something else")
GPU_ONLY = EnvClass(
    (r"(GPU|VRAM|CUDA|CUBLAS|CUDNN|NCCL|NVML|_SCHED_SPREAD$|_OFFLOAD_)"),
    "tunes GPUs (memory set aside per GPU, spreading a model over GPUs, offloading to a GPU, CUDA, cuBLAS or "
    "NCCL)")
"""Names only a deployment whose server uses a GPU may set (Ollama's OLLAMA_SCHED_SPREAD spreads layers over GPUs)."""
NO_GPU = "resources.gpu is not set"
"""Why a deployment without resources.gpu uses no GPU."""
MODEL_TRANSFER = EnvClass(
    (r"(TRANSFER|DOWNLOAD|_PULL|_PUSH)"),
    "tunes model downloads or uploads (pulls, pushes, transfer streams), but the serving container never transfers a "
    "model: the one-shot preparation step fetches it and the server has no route out")
"""Names that act only while a model is fetched, which the server of every runtime leaves to the preparation step."""
DEBUG_OUTPUT = EnvClass(
    (r"(DEBUG|TRACE|VERBOSE|LOGGER|PROFIL|_DUMP|_OUTPUT_TENSOR$|LOG_LEVEL$|LOGGING_LEVEL$)"),
    "raises debug, trace or log-level output, which can write prompts and generated text to the logs "
    "(vLLM logs the input prompt at debug level, Ollama logs model output at trace level)")
LOGGING = EnvClass(
    (r"(LOGGING|_LOG_|_LOG$|_PRINT_)"),
    "changes how or where the server logs (logging configuration, streams, prefixes, intervals); the log "
    "pipeline and the alerts read the runtime's own format on its standard streams")
INTERNAL = EnvClass(
    (r"(^CMAKE_|^NVCC_|^MAX_JOBS$|^TORCH_CUDA_ARCH_LIST$|^VLLM_(BUILD_|DOCKER_BUILD|IMAGE_TAG$|"
     r"MAIN_CUDA_VERSION$|PRECOMPILED|USE_PRECOMPILED|SKIP_PRECOMPILED|TARGET_DEVICE$|DIST_IDENT$)|"
     r"_TEST_|_CI_ENV$|^LLAMA_APP_CMD$|^LLAMA_SERVER_|_CHILD_MODE$|_ROUTING_SIMULATION_)"),
    "is internal to the runtime: read while building it from source or by its tests (vLLM's MoE routing "
    "simulator replaces the model's router), or set by the runtime for its own child processes")
OWNED = {
    "ollama": EnvClass((r"^OLLAMA_(KEEP_ALIVE|NUM_PARALLEL|MAX_LOADED_MODELS|MAX_QUEUE|CONTEXT_LENGTH|"
                        r"FLASH_ATTENTION|KV_CACHE_TYPE|AUTH)$"),
                       "is set from the spec (runtime.keep_alive, runtime.max_loaded_models, runtime.flash_attention, "
                       "runtime.kv_cache_type, model.context_length, serving.concurrency)"),
}
"""Per runtime: variables slm-deploy derives from typed fields."""
CLASSES = (LOADER, NETWORK, FILES, UNSAFE, GPU_SELECTION, OTHER_HARDWARE, DEBUG_OUTPUT, LOGGING, INTERNAL)
ON_APPLE_SILICON = ("mlx",)
"""Runtimes that run on hardware OTHER_HARDWARE names (MLX on Apple silicon's Metal): that class's reason is false
for them, and the record says what they read."""
