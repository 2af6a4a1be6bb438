"""Session fixtures for real-container tests: tiny models, llama.cpp built from source, stacks built from rendered
bundles, the ONNX server alone in a hardened container, and the ONNX stack's Compose project up."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.compose_projects import Project, running_project
from tests.integration.stacks import NAME, RenderedStack, http, render_and_build, wait_for, write_llamacpp_spec, write_onnx_kubernetes_spec, write_spec
from tests.support.base_image import BaseImage
from tests.support.cache import cache_root, exclusive
from tests.support.docker_engine import docker
from tests.support.llamacpp_build import LlamaCppBuild, llamacpp_build
from tests.support.llamacpp_image import StandInImage, stand_in_image
from tests.support.tiny_gguf import build_tiny_gguf

DATA_ROOT = Path("/srv/slm-deploy-tests")
"""Where test runs put the local model folders their Compose projects mount (one folder per run)."""


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A tiny ONNX Runtime GenAI model (random weights), built once per recipe and cached."""
    pytest.importorskip("torch", reason="the ONNX model builder needs torch (test extras)")
    from tests.support.tiny_model import build_tiny_model

    with exclusive("tiny-model"):
        return build_tiny_model(cache_root())


@pytest.fixture(scope="session")
def monitoring_images(local_registry: str) -> dict[str, str]:
    """Prometheus and Alertmanager stand-ins holding Debian's binaries, pinned by their registry digests."""
    from tests.support.monitoring_images import publish_debian_monitoring_images

    with exclusive("debian-monitoring-images"):
        return publish_debian_monitoring_images(local_registry)


@pytest.fixture(scope="session")
def served_model(tiny_model: Path) -> Iterator[Path]:
    """A copy of the tiny model inside a data root (/srv), the only host folders slm-compose-012 lets a container
    mount; removed after the session."""
    folder = DATA_ROOT / f"run-{uuid.uuid4().hex[:12]}"
    shutil.copytree(tiny_model, folder / "model")
    try:
        yield folder / "model"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def onnx_stack(base_image: BaseImage, host_ca_bundle: Path, served_model: Path, monitoring_images: dict[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The ONNX stack with the gateway and its monitoring, images built from the rendered bundle (BuildKit, CA
    as a secret)."""
    folder = tmp_path_factory.mktemp("onnx-stack")
    spec = write_spec(folder, base_image.reference, served_model, monitoring_images)
    with exclusive("onnx-stack-build"):
        return render_and_build(spec, folder / "bundle", host_ca_bundle, monitoring=True)


@pytest.fixture(scope="session")
def llamacpp() -> LlamaCppBuild:
    """llama-server and llama-quantize built from the source of the pinned image's build, cached per machine."""
    return llamacpp_build()


@pytest.fixture(scope="session")
def llamacpp_image(llamacpp: LlamaCppBuild, base_image: BaseImage, local_registry: str) -> StandInImage:
    """The stand-in for the pinned llama.cpp server image, pushed to the local registry."""
    return stand_in_image(llamacpp, base_image, local_registry)


@pytest.fixture(scope="session")
def tiny_gguf(llamacpp: LlamaCppBuild) -> Path:
    """A tiny Q4_K_M GGUF converted and quantised by the tools of the same llama.cpp build."""
    pytest.importorskip("sentencepiece", reason="the tiny GGUF's tokenizer is trained with sentencepiece (test extras)")
    with exclusive("tiny-gguf"):
        return build_tiny_gguf(cache_root(), llamacpp)


@pytest.fixture(scope="session")
def llamacpp_stack(llamacpp_image: StandInImage, base_image: BaseImage, local_registry: str, tiny_gguf: Path,
                   host_ca_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The llama.cpp stack with the gateway, its images built from the rendered bundle and pushed."""
    folder = tmp_path_factory.mktemp("llamacpp-stack")
    spec = write_llamacpp_spec(folder, llamacpp_image=llamacpp_image.reference, python_image=base_image.reference,
                               gguf=tiny_gguf, registry=local_registry)
    with exclusive("llamacpp-stack-build"):
        return render_and_build(spec, folder / "bundle", host_ca_bundle, push=True)


@pytest.fixture(scope="session")
def onnx_kubernetes_stack(base_image: BaseImage, local_registry: str, host_ca_bundle: Path,
                          tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The ONNX stack rendered for Kubernetes, its images built from the bundle and pushed to the local registry."""
    folder = tmp_path_factory.mktemp("onnx-kubernetes-stack")
    spec = write_onnx_kubernetes_spec(folder, python_image=base_image.reference, registry=local_registry)
    with exclusive("onnx-stack-build"):
        return render_and_build(spec, folder / "bundle", host_ca_bundle, push=True)


ONNX_PORT = 8001
UID = 10001
HEALTH_ATTEMPTS = 180


@pytest.fixture(scope="session")
def onnx_server(onnx_stack: RenderedStack) -> Iterator[tuple[str, str]]:
    """Run the server as Compose would: read-only root, no capabilities, model mounted read-only."""
    container = f"slm-it-onnx-{uuid.uuid4().hex[:8]}"
    model = next(line.split(":", 1)[0].strip().lstrip("- ")
                 for line in (onnx_stack.bundle / "compose" / "compose.yaml").read_text().splitlines()
                 if line.strip().endswith(":/models/onnx:ro"))
    docker(
        "run", "--detach", "--name", container,
        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "--tmpfs", "/tmp:size=64m,mode=1777",
        "--tmpfs", f"/var/cache/slm:size=64m,uid={UID},gid={UID},mode=0700",
        "--pids-limit", "256", "--memory", "1g",
        "--volume", f"{model}:/models/onnx:ro",
        "--publish", f"127.0.0.1::{ONNX_PORT}",
        onnx_stack.images[NAME],
    )
    try:
        address = docker("port", container, f"{ONNX_PORT}/tcp").splitlines()[0].strip()
        base = f"http://{address}"
        wait_for(lambda: http("GET", f"{base}/health", timeout=5)[0] == 200, "the server reporting healthy",
                 HEALTH_ATTEMPTS, describe=lambda: docker("logs", "--tail", "40", container))
        yield container, base
    finally:
        docker("rm", "--force", "--volumes", container)


@pytest.fixture(scope="session")
def compose_project(onnx_stack: RenderedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The ONNX stack's Compose project, up and healthy, with an API key written as the README asks."""
    with running_project(onnx_stack, tmp_path_factory.mktemp("compose-up") / "bundle",
                         {NAME, f"{NAME}-gateway"}) as current:
        yield current
