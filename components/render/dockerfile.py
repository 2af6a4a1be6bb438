"""Dockerfiles for services whose image slm-deploy builds, from one template per runtime."""

from __future__ import annotations

from functools import lru_cache

from slm_deploy import __version__
from slm_deploy.render.templating import render_template
from slm_deploy.runtimes import model_preparation as prep
from slm_deploy.runtimes.egress_proxy import CONFIG_FILE as PROXY_CONFIG_FILE
from slm_deploy.runtimes.egress_proxy import CONFIG_PATH as PROXY_CONFIG_PATH
from slm_deploy.runtimes.egress_proxy import SQUID_PACKAGE
from slm_deploy.runtimes.ollama import WEBUI_DATA_DIR
from slm_deploy.runtimes.onnxruntime import MODEL_PREP_REQUIREMENTS_FILE, SERVER_MODULE, SERVER_ROOT
from slm_deploy.runtimes.plan import CACHE_ROOT, ServicePlan
from slm_deploy.spec.loader import Deployment

DESCRIPTIONS = {
    "vllm": "vLLM OpenAI-compatible server",
    "ollama": "Ollama server",
    "llamacpp": "llama.cpp llama-server",
    "onnxruntime": "ONNX Runtime GenAI OpenAI-compatible server",
    "open-webui": "Open WebUI",
    "gateway": "slm-deploy serving gateway",
    "prometheus": "Prometheus",
    "alertmanager": "Alertmanager",
    "smoke": "slm-deploy smoke checks",
    "squid": "slm-deploy model download egress proxy (Squid)",
}
PREP_DESCRIPTIONS = {"model-prep-gguf": "slm-deploy model preparation (GGUF)",
                     "model-prep-onnx": "slm-deploy model preparation (ONNX Runtime GenAI)"}
UPSTREAM_BINARIES = {
    "prometheus": ("/bin/prometheus", "/bin/promtool"),
    "alertmanager": ("/bin/alertmanager", "/bin/amtool"),
}
"""Files the monitoring images copy from their pinned upstream image."""


def _docker_quoted(value: str) -> str:
    """A double-quoted word Docker's lexer reads back as `value`: it unescapes only backslash, quote and dollar."""
    if "\n" in value or "\r" in value:
        raise ValueError("an ENV value cannot span lines in a Dockerfile")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _env_instruction(env: list[tuple[str, str]]) -> str:
    """One ENV instruction, a variable per line, values quoted as Docker reads them (non-ASCII kept as is)."""
    if not env:
        return ""
    body = " \\\n    ".join(f"{key}={_docker_quoted(value)}" for key, value in env)
    return f"ENV {body}\n"


def render_dockerfile(service: ServicePlan, deployment: Deployment) -> str:
    """The hardened Dockerfile of one service; the service must have a build."""
    security = deployment.spec.security
    return _dockerfile(service, security.uid, security.gid)


@lru_cache(maxsize=16)
def _dockerfile(service: ServicePlan, uid: int, gid: int) -> str:
    """Keyed on all it reads: a render names each image (and its tags) from its build context several times over."""
    build = service.own_build
    writable = sorted(set(service.writable_paths) - {"/tmp"})
    llamacpp_url, llamacpp_sha256 = prep.llamacpp_source()
    return render_template(
        f"docker/{build.template}.Dockerfile.j2",
        stage="runtime",
        service=service,
        base=build.base.reference,
        base_name=f"{build.base.name}:{build.base.tag}",
        base_digest=build.base.digest,
        description=PREP_DESCRIPTIONS.get(build.template) or DESCRIPTIONS.get(service.runtime, service.runtime),
        version=__version__,
        uid=uid,
        gid=gid,
        cache_root=CACHE_ROOT,
        writable_paths=writable,
        owned_paths=writable,
        env_block=_env_instruction(list(service.env)),
        workdir=CACHE_ROOT,
        port=service.port,
        healthcheck=list(build.healthcheck),
        start_period=min(service.startup_budget_seconds, 3600),
        entrypoint=list(service.command),
        cmd=list(service.args),
        context_paths=[path for path, _ in build.context_files],
        server_root=SERVER_ROOT,
        server_module=SERVER_MODULE,
        prep_requirements=MODEL_PREP_REQUIREMENTS_FILE,
        webui_data_dir=WEBUI_DATA_DIR,
        sources=[source.reference for source in build.sources],
        binaries=UPSTREAM_BINARIES.get(service.runtime, ()),
        prep_requirements_file=prep.REQUIREMENTS_FILE,
        torch_index=prep.TORCH_CPU_INDEX,
        torch_requirements_file=prep.TORCH_REQUIREMENTS_FILE,
        llamacpp_build=prep.llamacpp_build_number(),
        llamacpp_url=llamacpp_url,
        llamacpp_sha256=llamacpp_sha256,
        llamacpp_cmake=prep.LLAMACPP_CMAKE,
        llamacpp_root=prep.LLAMACPP_ROOT,
        squid_package=SQUID_PACKAGE,
        proxy_config_file=PROXY_CONFIG_FILE,
        proxy_config_path=PROXY_CONFIG_PATH,
    )
