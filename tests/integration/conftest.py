"""Session fixtures for real-container tests: the tiny model and the ONNX stack built from rendered Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.stacks import RenderedStack, render_and_build, write_spec
from tests.support.base_image import BaseImage
from tests.support.cache import cache_root, exclusive


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
def onnx_stack(base_image: BaseImage, host_ca_bundle: Path, tiny_model: Path, monitoring_images: dict[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The ONNX stack with the gateway and its monitoring, images built from the rendered bundle (BuildKit, CA
    as a secret)."""
    folder = tmp_path_factory.mktemp("onnx-stack")
    spec = write_spec(folder, base_image.reference, tiny_model, monitoring_images)
    with exclusive("onnx-stack-build"):
        return render_and_build(spec, folder / "bundle", host_ca_bundle)
