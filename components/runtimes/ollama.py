"""Ollama: a read-only server, a one-shot step that pulls and creates the model, optional Open WebUI."""

from __future__ import annotations

import shlex

from slm_deploy.runtimes.common import (
    WRITABLE_PATHS, cache_env, merge_env, pinned, runtime_image, secret_file, service_labels,
)
from slm_deploy.runtimes.plan import (
    CACHE_ROOT, MODEL_ROOT, ExecCheck, GpuNeed, HttpCheck, ImageBuild, RuntimePlan, ServicePlan,
)
from slm_deploy.spec.loader import Deployment

DEFAULT_PORT = 11434
OLLAMA_MODELS = f"{MODEL_ROOT}/ollama"
MODELFILE_PATH = "/etc/slm/Modelfile"


def served_alias(deployment: Deployment) -> str:
    """The name clients use: the Modelfile variant when there is one, else the library tag."""
    if deployment.spec.runtime.modelfile is not None:
        return f"{deployment.spec.name}:latest"
    return deployment.model.source.tag


def modelfile_text(deployment: Deployment) -> str | None:
    """The Modelfile for the variant, or None when the library model is served as it is."""
    options = deployment.spec.runtime.modelfile
    if options is None:
        return None
    lines = [f"FROM {deployment.model.source.tag}", f"PARAMETER num_ctx {deployment.sizing.context_length}"]
    lines += [f"PARAMETER {name} {value}" for name, value in sorted(options.parameters.items())]
    if options.system_prompt:
        lines.append(f'SYSTEM """{options.system_prompt}"""')
    return "\n".join(lines) + "\n"


def prep_script(deployment: Deployment) -> str:
    """The one-shot preparation: pull the pinned tag, then create the variant if the spec has one."""
    tag = deployment.model.source.tag
    lines = ["#!/bin/sh", "set -eu", f"/bin/ollama pull {shlex.quote(tag)}"]
    if deployment.spec.runtime.modelfile is not None:
        lines.append(f"/bin/ollama create {shlex.quote(served_alias(deployment))} -f {MODELFILE_PATH}")
    return "\n".join(lines) + "\n"


def _server_env(deployment: Deployment, port: int) -> dict[str, str]:
    options, sizing = deployment.spec.runtime, deployment.sizing
    return {
        **cache_env(),
        "OLLAMA_HOST": f"0.0.0.0:{port}",
        "OLLAMA_MODELS": OLLAMA_MODELS,
        "OLLAMA_KEEP_ALIVE": options.keep_alive,
        "OLLAMA_NUM_PARALLEL": str(sizing.concurrency),
        "OLLAMA_MAX_LOADED_MODELS": str(options.max_loaded_models),
        "OLLAMA_MAX_QUEUE": "512",
        "OLLAMA_CONTEXT_LENGTH": str(sizing.context_length),
        "OLLAMA_FLASH_ATTENTION": "1" if options.flash_attention else "0",
        "OLLAMA_KV_CACHE_TYPE": options.kv_cache_type,
        "OLLAMA_NOPRUNE": "1",
    }


def _open_webui(deployment: Deployment, runtime_url: str) -> ServicePlan:
    spec = deployment.spec
    options = spec.runtime.open_webui
    image = (pinned(deployment, "open-webui") if options.image is None
             else runtime_image(deployment, "open-webui"))
    secret = secret_file(options.secret_key_secret, "WEBUI_SECRET_KEY_FILE")
    env = {
        **cache_env(),
        "OLLAMA_BASE_URL": runtime_url,
        "WEBUI_AUTH": "True",
        "ENABLE_SIGNUP": "False",
        "DATA_DIR": f"{CACHE_ROOT}/open-webui",
        "PORT": str(options.port),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "True",
        "SCARF_NO_ANALYTICS": "True",
        secret.env: secret.path,
    }
    return ServicePlan(
        name=f"{spec.name}-open-webui", role="ui", runtime="open-webui", image=image,
        build=ImageBuild(template="open-webui", base=image,
                         healthcheck=("curl", "-fsS", f"http://127.0.0.1:{options.port}/health")),
        command=("bash", "start.sh"), args=(), env=tuple(sorted(env.items())), port=options.port,
        health=HttpCheck("/health", options.port), readiness=HttpCheck("/health", options.port),
        metrics_path=None, writable_paths=WRITABLE_PATHS, secret_files=(secret,), cpu=1.0,
        memory_bytes=2 * 2**30, startup_budget_seconds=600, depends_on=(spec.name,),
        labels=service_labels(deployment, "ui"),
    )


def plan(deployment: Deployment) -> RuntimePlan:
    """Plan the Ollama server, its model preparation and, if enabled, Open WebUI."""
    spec, sizing = deployment.spec, deployment.sizing
    port = spec.serving.port or DEFAULT_PORT
    image = runtime_image(deployment, "ollama")
    gpu = spec.resources.gpu
    alias = served_alias(deployment)
    context = [("prepare-model.sh", prep_script(deployment))]
    modelfile = modelfile_text(deployment)
    if modelfile:
        context.append(("Modelfile", modelfile))
    build = ImageBuild(template="ollama", base=image, context_files=tuple(context),
                       healthcheck=("/bin/ollama", "list"))
    server = ServicePlan(
        name=spec.name, role="runtime", runtime="ollama", image=image,
        build=build,
        command=("/bin/ollama", "serve"), args=(), env=merge_env(_server_env(deployment, port), deployment),
        port=port, health=HttpCheck("/", port), readiness=ExecCheck(("/bin/ollama", "show", alias)),
        metrics_path=None, writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        gpu=GpuNeed(gpu.count, gpu.type.value) if gpu else None, cpu=spec.resources.cpu,
        memory_bytes=sizing.host_memory_bytes, shm_bytes=sizing.shm_bytes,
        startup_budget_seconds=sizing.startup_budget_seconds, model_dir=MODEL_ROOT,
        labels=service_labels(deployment, "runtime"),
    )
    prep = ServicePlan(
        name=f"{spec.name}-model-prep", role="model-prep", runtime="ollama", image=image,
        build=build,
        command=("/bin/sh", "/etc/slm/prepare-model.sh"), args=(),
        env=tuple(sorted({**cache_env(), "OLLAMA_HOST": f"http://{spec.name}:{port}"}.items())),
        port=None, health=None, readiness=None, metrics_path=None, writable_paths=WRITABLE_PATHS,
        cpu=0.5, memory_bytes=512 * 2**20, depends_on=(spec.name,), one_shot=True,
        labels=service_labels(deployment, "model-prep"),
    )
    services = [server, prep]
    if spec.runtime.open_webui.enabled:
        services.append(_open_webui(deployment, f"http://{spec.name}:{port}"))
    return RuntimePlan(services=tuple(services))
