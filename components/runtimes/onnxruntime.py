"""ONNX Runtime GenAI behind the OpenAI-compatible server this project ships (slm_deploy.servers.ortgenai)."""

from __future__ import annotations

from importlib import resources

from slm_deploy.errors import Problem, SpecError
from slm_deploy.runtimes.common import (
    options_of, source_of,
    WRITABLE_PATHS, cache_env, hub_token, merge_env, model_prep_service, pinned, python_venv_env, service_labels,
)
from slm_deploy.runtimes.model_preparation import check_script, locked_versions, prepared_model, preparation_services
from slm_deploy.runtimes.prepared_builds import check_genai_version
from slm_deploy.runtimes.plan import CACHE_ROOT, MODEL_ROOT, GpuNeed, HttpCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.spec.images import parse_image
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import OnnxSource
from slm_deploy.spec.preparation import served_execution_provider
from slm_deploy.spec.runtime_options import OnnxRuntimeOptions
from slm_deploy.spec.present import present

DEFAULT_PORT = 8001
SERVER_PACKAGE = "slm_deploy.servers.ortgenai"
SERVER_ROOT = "/opt/ortgenai"
SERVER_MODULE = "ortgenai_server"
ONNX_DIR = f"{MODEL_ROOT}/onnx"
MODEL_PREP_REQUIREMENTS_FILE = "model-prep-requirements.txt"
# What the model-preparation step adds to the server's own set (snapshot_download), resolved for CPython 3.11
# together with ortgenai_server/requirements.txt; packages both sets share are pinned once, there.
MODEL_PREP_REQUIREMENTS = (
    "filelock==4.3.1",
    "fsspec==2026.9.0",
    "hf-xet==1.8.0",
    "httpcore2==2.16.2",
    "httpx2==2.16.2",
    "huggingface_hub==2.4.0",
    "PyYAML==6.0.4",
    "tqdm==4.70.1",
    "truststore==0.10.5",
)
SNAPSHOT_DOWNLOAD = (
    "python3", "-c",
    "import sys;from huggingface_hub import snapshot_download;"
    "snapshot_download(sys.argv[1],revision=sys.argv[2],allow_patterns=[sys.argv[3]+'/*'],local_dir=sys.argv[4])",
)


def server_sources() -> tuple[tuple[str, str], ...]:
    """The server's source files, copied into the image's build context as ortgenai_server/."""
    package = resources.files(SERVER_PACKAGE)
    files = sorted((p for p in package.iterdir() if p.is_file() and p.name.endswith((".py", ".txt"))),
                   key=lambda p: p.name)
    return tuple((f"{SERVER_MODULE}/{p.name}", p.read_text(encoding="utf-8")) for p in files)


def requirements(sources: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The pinned requirement lines the server image installs (the server's own, then model preparation's)."""
    text = dict(sources).get(f"{SERVER_MODULE}/requirements.txt", "")
    server = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return server + MODEL_PREP_REQUIREMENTS


def model_prep_requirements_text() -> str:
    """The model-preparation requirement file of the image's build context."""
    header = "# Model preparation (huggingface_hub snapshot_download); install with --no-deps after the server's set.\n"
    return header + "\n".join(MODEL_PREP_REQUIREMENTS) + "\n"


def model_dir(deployment: Deployment) -> str:
    """Where the model folder is inside the container."""
    if deployment.model.prepare:
        return ONNX_DIR
    source = source_of(deployment, OnnxSource)
    return f"{ONNX_DIR}/{source.path}" if source.repo else ONNX_DIR


def plan(deployment: Deployment) -> RuntimePlan:
    """Plan the server image build, the server and (for repository sources) the download step."""
    spec, sizing, model = deployment.spec, deployment.sizing, deployment.model
    options = options_of(deployment, OnnxRuntimeOptions)
    prepared = prepared_model(deployment, ONNX_DIR) if model.prepare else None
    source = None if prepared else source_of(deployment, OnnxSource)
    port = spec.serving.port or DEFAULT_PORT
    base = pinned(deployment, "python")
    sources = server_sources()
    build = ImageBuild(
        template="onnxruntime", base=base,
        context_files=(*sources, (MODEL_PREP_REQUIREMENTS_FILE, model_prep_requirements_text())),
        packages=requirements(sources),
        healthcheck=("python3", "-m", f"{SERVER_MODULE}.healthcheck"),
    )
    image = parse_image(options.image) if options.image else None
    if image and prepared:
        check_genai_version(deployment, image, locked_versions("onnx")["onnxruntime-genai"],
                            served_execution_provider(spec))
    if source and not source.repo and (spec.targets.kubernetes or spec.targets.aks):
        raise SpecError(Problem("model.source.repo", "a local model folder exists only on the Compose host",
                                allowed="a repository with a pinned revision for Kubernetes targets"))
    gpu = spec.resources.gpu
    env = {
        **cache_env(),
        **python_venv_env(),
        "PYTHONPATH": SERVER_ROOT,
        "ORT_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "SLM_MODEL_DIR": model_dir(deployment),
        "SLM_SERVED_MODEL_NAME": model.served_name,
        "SLM_HOST": "0.0.0.0",
        "SLM_PORT": str(port),
        "SLM_MAX_CONCURRENCY": str(sizing.concurrency),
        "SLM_MAX_QUEUE": str(4 * sizing.concurrency),
        "SLM_EXECUTION_PROVIDER": options.execution_provider,
    }
    services: list[ServicePlan] = []
    depends: tuple[str, ...] = ()
    if prepared:
        services += preparation_services(deployment, prepared)
        depends = (services[0].name,)
    elif source and source.repo:
        secrets, token_env = hub_token(deployment)
        prep = model_prep_service(
            deployment, image=image, build=build, command=SNAPSHOT_DOWNLOAD,
            args=(source.repo, present(source.revision, "model.source.revision"), source.path, ONNX_DIR),
            env={**cache_env(), **python_venv_env(), "HF_HOME": f"{CACHE_ROOT}/huggingface",
                 "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0", **token_env},
            secrets=secrets, cpu=0.5, memory_bytes=512 * 2**20,
        )
        services.append(prep)
        depends = (prep.name,)
    server = ServicePlan(
        name=spec.name, role="runtime", runtime="onnxruntime", image=image, build=build,
        command=("python3", "-m", SERVER_MODULE), args=(), env=merge_env(env, deployment), port=port,
        health=HttpCheck("/health", port), readiness=HttpCheck("/health", port), metrics_path="/metrics",
        writable_paths=WRITABLE_PATHS + (MODEL_ROOT,),
        gpu=GpuNeed(gpu.count, gpu.type.value) if gpu else None, cpu=spec.resources.cpu,
        memory_bytes=sizing.host_memory_bytes, shm_bytes=sizing.shm_bytes,
        startup_budget_seconds=sizing.startup_budget_seconds, model_dir=MODEL_ROOT, depends_on=depends,
        model_host_path=source.path if source and not source.repo else None,
        model_check=check_script(prepared) if prepared else None,
        labels=service_labels(deployment, "runtime"),
    )
    return RuntimePlan(services=(server, *services))
