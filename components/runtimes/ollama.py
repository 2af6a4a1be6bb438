"""Ollama: a read-only server, a one-shot step that pulls and creates the model, optional Open WebUI."""

from __future__ import annotations

import shlex

from slm_deploy.runtimes.common import (
    options_of, source_of,
    WRITABLE_PATHS, cache_env, merge_env, pinned, runtime_image, secret_file, service_labels,
)
from slm_deploy.runtimes.plan import (
    MODEL_ROOT, ExecCheck, GpuNeed, HttpCheck, ImageBuild, RuntimePlan, ServicePlan,
)
from slm_deploy.runtimes.gateway import gateway_name
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import OllamaSource
from slm_deploy.spec.modelfile_quoting import quoted_value
from slm_deploy.spec.runtime_options import OllamaOptions

DEFAULT_PORT = 11434
OLLAMA_MODELS = f"{MODEL_ROOT}/ollama"
MODELFILE_PATH = "/etc/slm/Modelfile"


def served_alias(deployment: Deployment) -> str:
    """The name clients use: the Modelfile variant when there is one, else the library tag."""
    if options_of(deployment, OllamaOptions).modelfile is not None:
        return f"{deployment.spec.name}:latest"
    return source_of(deployment, OllamaSource).tag


def modelfile_text(deployment: Deployment) -> str | None:
    """The Modelfile for the variant, or None when the library model is served as it is."""
    options = options_of(deployment, OllamaOptions).modelfile
    if options is None:
        return None
    lines = [f"FROM {source_of(deployment, OllamaSource).tag}", f"PARAMETER num_ctx {deployment.sizing.context_length}"]
    lines += [f"PARAMETER {name} {text}" for name, value in sorted(options.parameters.items())
              for text in _parameter_texts(value)]
    if options.system_prompt:
        lines.append(f'SYSTEM """{options.system_prompt}"""')
    return "\n".join(lines) + "\n"


def _parameter_texts(value: bool | int | float | str | list[str]) -> list[str]:
    """One written value per PARAMETER line: Ollama appends repeated lines of a list parameter such as stop."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (int, float)):
        return [str(value)]
    texts = [quoted_value(item) for item in ([value] if isinstance(value, str) else value)]
    if None in texts:
        raise ValueError("a Modelfile text the spec check refuses reached the renderer")
    return [text for text in texts if text is not None]


PREP_LISTEN = "127.0.0.1:11434"
PREP_SERVER_WAIT_SECONDS = 60
WEBUI_ENTRYPOINT = "open-webui-entrypoint.sh"
WEBUI_ENTRYPOINT_PATH = f"/etc/slm/{WEBUI_ENTRYPOINT}"
WEBUI_DATA_DIR = "/var/lib/open-webui"
"""Open WebUI's state (database, uploads, vectors) on its own volume, away from /app/backend/data, where the
image keeps the embedding model, speech model and tokenizer files it was built with: an empty volume mounted
there would hide them, and with the pod offline RAG and document upload would fail."""
WEBUI_BAKED_CACHE = "/app/backend/data/cache"
WEBUI_BAKED_PATHS = {
    "SENTENCE_TRANSFORMERS_HOME": f"{WEBUI_BAKED_CACHE}/embedding/models",
    "WHISPER_MODEL_DIR": f"{WEBUI_BAKED_CACHE}/whisper/models",
}
"""Where the upstream image bakes its models; named explicitly because their defaults follow DATA_DIR. (The
image's own ENV also points the tokenizer cache, TIKTOKEN_CACHE_DIR, into /app/backend/data/cache.)"""
WEBUI_KEY_ID = "open-webui"


def prep_script(deployment: Deployment) -> str:
    """The one-shot preparation: a private loopback server pulls the pinned tag and creates the variant.

    The serving container never downloads anything (it has no route out); it reads what this step
    leaves in the shared model volume.
    """
    tag = source_of(deployment, OllamaSource).tag
    lines = [
        "#!/bin/sh",
        "set -eu",
        f"OLLAMA_HOST={PREP_LISTEN} /bin/ollama serve &",
        "server=$!",
        "trap 'kill \"$server\" 2>/dev/null || true' EXIT",
        "waited=0",
        "until /bin/ollama list >/dev/null 2>&1; do",
        f"  if [ \"$waited\" -ge {PREP_SERVER_WAIT_SECONDS} ]; then echo 'ollama did not start' >&2; exit 1; fi",
        "  waited=$((waited + 1))",
        "  sleep 1",
        "done",
        f"/bin/ollama pull {shlex.quote(tag)}",
    ]
    if options_of(deployment, OllamaOptions).modelfile is not None:
        lines.append(f"/bin/ollama create {shlex.quote(served_alias(deployment))} -f {MODELFILE_PATH}")
    lines.append(f"/bin/ollama show {shlex.quote(served_alias(deployment))} >/dev/null")
    return "\n".join(lines) + "\n"


def webui_entrypoint(secret_key_path: str, api_key_path: str | None) -> str:
    """Start Open WebUI with its session key (and the gateway key) read from secret files, never from env."""
    lines = [
        "#!/bin/sh",
        "# Open WebUI reads these only from its environment; they come from files mounted under /run/secrets.",
        "set -eu",
        f"WEBUI_SECRET_KEY=\"$(cat {shlex.quote(secret_key_path)})\"",
        "export WEBUI_SECRET_KEY",
    ]
    if api_key_path:
        lines += [f"OPENAI_API_KEY=\"$(cat {shlex.quote(api_key_path)})\"", "export OPENAI_API_KEY"]
    lines += ["WEBUI_AUTH=True", "export WEBUI_AUTH", "cd /app/backend", "exec bash start.sh"]
    return "\n".join(lines) + "\n"


def _server_env(deployment: Deployment, port: int) -> dict[str, str]:
    options, sizing = options_of(deployment, OllamaOptions), deployment.sizing
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


def _open_webui(deployment: Deployment, runtime_url: str, runtime_port: int) -> ServicePlan:
    """Open WebUI talks to the gateway's OpenAI-compatible API with its own key, or to Ollama without one."""
    spec = deployment.spec
    options = options_of(deployment, OllamaOptions).open_webui
    image = (pinned(deployment, "open-webui") if options.image is None
             else runtime_image(deployment, "open-webui"))
    session = secret_file(options.secret_key_secret)
    secrets = [session]
    env = {
        **cache_env(),
        **WEBUI_BAKED_PATHS,
        # Without this, values such as OPENAI_API_BASE_URL and OPENAI_API_KEY only seed Open WebUI's database on
        # the first start, and the stored copy wins afterwards: a rotated gateway key would be ignored.
        "ENABLE_PERSISTENT_CONFIG": "False",
        "ENABLE_SIGNUP": "False",
        "DATA_DIR": WEBUI_DATA_DIR,
        "PORT": str(options.port),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "True",
        "SCARF_NO_ANALYTICS": "True",
    }
    if spec.serving.auth.enabled:
        api_key = secret_file(options.api_key_secret)
        secrets.append(api_key)
        env |= {"ENABLE_OLLAMA_API": "False", "ENABLE_OPENAI_API": "True",
                "OPENAI_API_BASE_URL": f"http://{gateway_name(deployment)}:{spec.exposure.port}/v1"}
        depends = (gateway_name(deployment),)
        upstream_port = spec.exposure.port
    else:
        api_key = None
        env |= {"ENABLE_OLLAMA_API": "True", "OLLAMA_BASE_URL": runtime_url}
        depends = (spec.name,)
        upstream_port = runtime_port
    entrypoint = webui_entrypoint(session.path, api_key.path if api_key else None)
    return ServicePlan(
        name=f"{spec.name}-open-webui", role="ui", runtime="open-webui", image=image,
        build=ImageBuild(template="open-webui", base=image, context_files=((WEBUI_ENTRYPOINT, entrypoint),),
                         healthcheck=("curl", "-fsS", f"http://127.0.0.1:{options.port}/health")),
        command=("/bin/sh", WEBUI_ENTRYPOINT_PATH), args=(), env=tuple(sorted(env.items())), port=options.port,
        health=HttpCheck("/health", options.port), readiness=HttpCheck("/health", options.port),
        metrics_path=None, writable_paths=WRITABLE_PATHS, secret_files=tuple(secrets), cpu=1.0,
        memory_bytes=2 * 2**30, startup_budget_seconds=600, depends_on=depends, upstream_port=upstream_port,
        labels=service_labels(deployment, "ui", "open-webui"),
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
        env=tuple(sorted({**cache_env(), "OLLAMA_HOST": PREP_LISTEN, "OLLAMA_MODELS": OLLAMA_MODELS,
                          "OLLAMA_NOPRUNE": "1"}.items())),
        port=None, health=None, readiness=None, metrics_path=None, writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        cpu=1.0, memory_bytes=1024 * 2**20, model_dir=MODEL_ROOT, one_shot=True,
        labels=service_labels(deployment, "model-prep"),
    )
    services = [server, prep]
    if options_of(deployment, OllamaOptions).open_webui.enabled:
        services.append(_open_webui(deployment, f"http://{spec.name}:{port}", port))
    return RuntimePlan(services=tuple(services))
