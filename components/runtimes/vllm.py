"""vLLM: the OpenAI-compatible server on NVIDIA GPUs, weights pre-fetched and then served offline."""

from __future__ import annotations

from slm_deploy.runtimes.common import (
    options_of, source_of,
    PYTHON_HEALTHCHECK, WRITABLE_PATHS, cache_env, hub_token, merge_env, model_prep_service, runtime_image, service_labels,
)
from slm_deploy.runtimes.model_preparation import CHECKPOINT_FILES
from slm_deploy.runtimes.plan import (
    CACHE_ROOT, MODEL_ROOT, RUN_AS_NAME, GpuNeed, HttpCheck, ImageBuild, RuntimePlan, ServicePlan,
)
from slm_deploy.spec.idle_fields import written
from slm_deploy.spec.images import ImageRef
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.runtime_options import WEIGHT_DTYPES
from slm_deploy.spec.model_section import HuggingFaceSource
from slm_deploy.spec.runtime_options import VllmOptions
from slm_deploy.spec.present import gpu_of

DEFAULT_PORT = 8000
HF_HOME = f"{MODEL_ROOT}/huggingface"
SNAPSHOT_DOWNLOAD = (
    "python3", "-c",
    "import sys;from huggingface_hub import snapshot_download;"
    "snapshot_download(sys.argv[1],revision=sys.argv[2],allow_patterns=sys.argv[3:])",
)
REMOTE_CODE_FILES = ("*.py",)
"""The repository's own modules, fetched only when runtime.trust_remote_code runs them (an allow-listed repository)."""
RUN_AS_ENV = {"USER": RUN_AS_NAME, "LOGNAME": RUN_AS_NAME}
"""On Kubernetes the upstream image runs as UID 10001, which has no passwd entry there: getpass.getuser()
(torch's compile caches, vLLM's own paths) reads LOGNAME or USER first and raises without them."""


def _dtype(deployment: Deployment) -> str:
    """runtime.dtype when the spec sets it, else the weight format the spec wrote, else the model's own (auto)."""
    spec, dtype = deployment.spec, options_of(deployment, VllmOptions).dtype
    if dtype == "auto" and written(spec, "model", "quantisation"):
        return WEIGHT_DTYPES.get(deployment.model.quantisation.value, "auto")
    return dtype


def _args(deployment: Deployment, port: int) -> tuple[str, ...]:
    spec, model, sizing = deployment.spec, deployment.model, deployment.sizing
    options, source = options_of(deployment, VllmOptions), source_of(deployment, HuggingFaceSource)
    args = [
        source.repo,
        "--revision", source.revision,
        "--served-model-name", model.served_name,
        "--host", "0.0.0.0",
        "--port", str(port),
        "--max-model-len", str(sizing.context_length),
        "--max-num-seqs", str(sizing.concurrency),
        "--gpu-memory-utilization", f"{sizing.gpu_memory_utilisation:.2f}",
        "--tensor-parallel-size", str(gpu_of(spec).count),
        "--dtype", _dtype(deployment),
        "--uvicorn-log-level", "warning",
    ]
    if model.quantisation.value in ("awq", "gptq"):
        args += ["--quantization", model.quantisation.value]
    if not options.enable_prefix_caching:
        args.append("--no-enable-prefix-caching")
    if options.trust_remote_code:
        args.append("--trust-remote-code")
    return tuple(args + list(options.extra_args))


def _env(deployment: Deployment) -> dict[str, str]:
    env = {
        **cache_env(),
        **RUN_AS_ENV,
        "HF_HOME": HF_HOME,
        "HF_HUB_OFFLINE": "1",
        "VLLM_CACHE_ROOT": f"{CACHE_ROOT}/vllm",
        "VLLM_CONFIG_ROOT": f"{CACHE_ROOT}/vllm-config",
        "TRITON_CACHE_DIR": f"{CACHE_ROOT}/triton",
        "TORCHINDUCTOR_CACHE_DIR": f"{CACHE_ROOT}/torchinductor",
        "NUMBA_CACHE_DIR": f"{CACHE_ROOT}/numba",
        "OUTLINES_CACHE_DIR": f"{CACHE_ROOT}/outlines",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    return env


def _served_files(deployment: Deployment) -> tuple[str, ...]:
    """What vLLM reads from the repository: with safetensors present its loader never opens .bin or .pt pickles."""
    remote_code = options_of(deployment, VllmOptions).trust_remote_code
    return CHECKPOINT_FILES + (REMOTE_CODE_FILES if remote_code else ())


def _prep(deployment: Deployment, image: ImageRef, build: ImageBuild) -> ServicePlan:
    """Fetch the pinned revision into the model volume once, so the server never downloads."""
    source = source_of(deployment, HuggingFaceSource)
    secrets, token_env = hub_token(deployment)
    return model_prep_service(
        deployment, image=image, build=build, command=SNAPSHOT_DOWNLOAD,
        args=(source.repo, source.revision, *_served_files(deployment)),
        env={**cache_env(), "HF_HOME": HF_HOME, "HF_HUB_DISABLE_TELEMETRY": "1", **token_env},
        secrets=secrets, cpu=1.0, memory_bytes=2 * 2**30,
    )

def plan(deployment: Deployment) -> RuntimePlan:
    """Plan the vLLM server and its model-prep step."""
    spec, sizing = deployment.spec, deployment.sizing
    port = spec.serving.port or DEFAULT_PORT
    image = runtime_image(deployment, "vllm")
    gpu = gpu_of(spec)
    build = ImageBuild(template="vllm", base=image,
                       healthcheck=PYTHON_HEALTHCHECK + (f"http://127.0.0.1:{port}/health",))
    prep = _prep(deployment, image, build)
    server = ServicePlan(
        name=spec.name, role="runtime", runtime="vllm", image=image, build=build,
        command=("vllm", "serve"), args=_args(deployment, port), env=merge_env(_env(deployment), deployment),
        port=port, health=HttpCheck("/health", port), readiness=HttpCheck("/v1/models", port),
        metrics_path="/metrics", writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        gpu=GpuNeed(gpu.count, gpu.type.value), cpu=spec.resources.cpu, memory_bytes=sizing.host_memory_bytes,
        shm_bytes=sizing.shm_bytes, startup_budget_seconds=sizing.startup_budget_seconds, model_dir=MODEL_ROOT,
        depends_on=(prep.name,), labels=service_labels(deployment, "runtime"),
    )
    return RuntimePlan(services=(server, prep))
