"""llama.cpp: llama-server on CPU or GPU, serving one pinned GGUF file fetched by a one-shot step."""

from __future__ import annotations

import posixpath
import shlex

from slm_deploy.runtimes.common import (
    options_of, source_of,
    WRITABLE_PATHS, cache_env, hub_token, merge_env, model_prep_service, runtime_image, service_labels,
)
from slm_deploy.runtimes.model_preparation import (
    PreparedModel, check_script, llamacpp_build_number, prepared_model, preparation_services,
)
from slm_deploy.runtimes.prepared_builds import check_llamacpp_build
from slm_deploy.runtimes.plan import CACHE_ROOT, MODEL_ROOT, GpuNeed, HttpCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.spec.images import ImageRef
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import GgufSource
from slm_deploy.spec.runtime_options import LlamaCppOptions

DEFAULT_PORT = 8080
GGUF_DIR = f"{MODEL_ROOT}/gguf"
ALL_LAYERS = 999


def gguf_url(deployment: Deployment) -> str:
    """The download URL of the pinned file (the commit when pinned by one, else main plus the checksum)."""
    source = source_of(deployment, GgufSource)
    return f"https://huggingface.co/{source.repo}/resolve/{source.revision or 'main'}/{source.file}"


def fetch_script(url: str, target: str, sha256: str | None, token_file: str | None,
                 header_file: str = "/tmp/hub-auth.header") -> str:
    """Download once into the model volume; skip a complete file, verify the checksum when pinned by one.
    The hub token is the raw token file every runtime reads; it becomes a private header file on the writable
    /tmp (never a process argument), and the script holds no `$`, which Compose and Kubernetes would expand."""
    path, partial = shlex.quote(target), shlex.quote(f"{target}.part")
    verify = f"echo {shlex.quote(f'{sha256}  {target}')} | sha256sum -c -" if sha256 else None
    present = f"{verify} >/dev/null 2>&1" if verify else f"[ -s {path} ]"
    lines = ["set -eu", f"if {present}; then exit 0; fi", f"mkdir -p {shlex.quote(posixpath.dirname(target))}"]
    header = ""
    if token_file:
        quoted = shlex.quote(header_file)
        lines += [f"trap {shlex.quote(f'rm -f {quoted}')} EXIT",
                  f"(umask 077; {{ printf 'Authorization: Bearer '; tr -d '\\r\\n' < {shlex.quote(token_file)}; "
                  f"printf '\\n'; }} > {quoted})"]
        header = f" --header @{quoted}"
    lines += [
        f"curl --fail --location --silent --show-error --retry 5{header} --output {partial} {shlex.quote(url)}",
        f"mv {partial} {path}",
    ]
    if verify:
        lines.append(verify)
    return "\n".join(lines)


def _gpu_layers(deployment: Deployment) -> int:
    options, gpu = options_of(deployment, LlamaCppOptions), deployment.spec.resources.gpu
    if options.n_gpu_layers is None:
        return ALL_LAYERS if gpu else 0
    return ALL_LAYERS if options.n_gpu_layers == "all" else options.n_gpu_layers


def _model_file(deployment: Deployment, prepared: PreparedModel | None) -> str:
    """The GGUF the server opens: the prepared one, or the pinned published file."""
    if prepared:
        return f"{prepared.directory}/{prepared.entry_file}"
    return f"{GGUF_DIR}/{source_of(deployment, GgufSource).file}"


def _args(deployment: Deployment, port: int, model_file: str) -> tuple[str, ...]:
    spec, sizing, options = deployment.spec, deployment.sizing, options_of(deployment, LlamaCppOptions)
    args = [
        "--host", "0.0.0.0",
        "--port", str(port),
        "--model", model_file,
        "--alias", deployment.model.served_name,
        "--ctx-size", str(sizing.context_length * sizing.concurrency),
        "--parallel", str(sizing.concurrency),
        "--n-gpu-layers", str(_gpu_layers(deployment)),
        "--flash-attn", options.flash_attn,
        "--threads", str(max(1, int(spec.resources.cpu))),
        "--metrics",
        "--jinja",
        "--no-webui",
    ]
    if not options.slots:
        args.append("--no-slots")
    return tuple(args + list(options.extra_args))


def _prep(deployment: Deployment, image: ImageRef, build: ImageBuild) -> ServicePlan:
    """Download the pinned file once with the server image's curl; it resumes and fails on HTTP errors."""
    source = source_of(deployment, GgufSource)
    target = f"{GGUF_DIR}/{source.file}"
    secrets, _ = hub_token(deployment, env=None)
    script = fetch_script(gguf_url(deployment), target, source.sha256,
                          secrets[0].path if secrets else None)
    return model_prep_service(
        deployment, image=image, build=build, command=("/bin/sh", "-c"), args=(script,), env=cache_env(),
        secrets=secrets, cpu=0.5, memory_bytes=256 * 2**20,
    )

def plan(deployment: Deployment) -> RuntimePlan:
    """Plan llama-server and the step that fetches its GGUF file."""
    spec, sizing = deployment.spec, deployment.sizing
    port = spec.serving.port or DEFAULT_PORT
    gpu = spec.resources.gpu
    image = runtime_image(deployment, "llamacpp-cuda" if gpu else "llamacpp")
    build = ImageBuild(template="llamacpp", base=image,
                       healthcheck=("curl", "-fsS", f"http://127.0.0.1:{port}/health"))
    prepared = prepared_model(deployment, GGUF_DIR) if deployment.model.prepare else None
    if prepared:
        check_llamacpp_build(deployment, image, llamacpp_build_number())
    steps = (preparation_services(deployment, prepared) if prepared
             else (_prep(deployment, image, build),))
    prep = steps[0]
    # Downloads llama-server makes itself (-hf) go to the writable cache volume: the model volume is read-only
    # to the server on Kubernetes, where the model-prep Job alone writes it.
    env = {**cache_env(), "LLAMA_CACHE": f"{CACHE_ROOT}/llama.cpp"}
    server = ServicePlan(
        name=spec.name, role="runtime", runtime="llamacpp", image=image, build=build,
        command=("/app/llama-server",), args=_args(deployment, port, _model_file(deployment, prepared)),
        env=merge_env(env, deployment),
        port=port, health=HttpCheck("/health", port), readiness=HttpCheck("/health", port),
        metrics_path="/metrics", writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        gpu=GpuNeed(gpu.count, gpu.type.value) if gpu else None, cpu=spec.resources.cpu,
        memory_bytes=sizing.host_memory_bytes, shm_bytes=sizing.shm_bytes,
        startup_budget_seconds=sizing.startup_budget_seconds, model_dir=MODEL_ROOT,
        depends_on=(prep.name,), model_check=check_script(prepared) if prepared else None,
        labels=service_labels(deployment, "runtime"),
    )
    return RuntimePlan(services=(server, *steps))
