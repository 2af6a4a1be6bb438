"""The specs and build options of the model preparation Compose test, and the warm-up CI runs before it.

`python -m tests.integration.model_preparation` renders the test's specs and builds each preparation image up to
its `build` stage (CPU torch and the pinned requirements, the slow part that downloads) with the test's build
options, while the torch wheel is served as the test serves it: the test's own builds then find those layers in
Docker's cache. CI starts it in the background once dockerd answers (.ci/run); the test still builds every image
itself, so a warm-up that fails or has not finished only costs time. The serving image of the GGUF spec is not
warmed, so the warm-up renders without the llama.cpp base (it needs the llama.cpp build): the preparation
Dockerfiles use only the Python base.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.integration.stacks import free_loopback_port, rendered_builds
from tests.support.base_image import publish_base_image
from tests.support.docker_engine import HOST_CA_BUNDLE, docker_build
from tests.support.registry import ensure_local_registry
from tests.support.torch_wheel import served_torch_wheel

REPO, REVISION = "acme/tiny-chat", "5d1f0c6b2a8e4f7091c3b2d4e6f8a0b1c2d3e4f5"
PREPARATIONS = {"gguf": ({"format": "gguf", "quantization": "q4_k_m"}, "llamacpp"),
                "onnx": ({"format": "onnx", "precision": "int4"}, "onnxruntime")}
"""Per format: the spec's preparation and the runtime that serves it."""
DOWNLOAD_STAGE = "build"
"""The preparation Dockerfiles' stage that installs torch and the requirements."""
WARM_TAG = "slm-test/model-prep-warm"
"""The warm-up's own tag: never the content tag, which would make the test skip building the whole image."""


def project_name(fmt: str) -> str:
    """The spec's (and the Compose project's) name for a format."""
    return f"prep-{fmt}"


def is_preparation_service(service: str, fmt: str) -> bool:
    """A preparation step of the format's project (one, or a download step and a conversion step)."""
    return service.startswith(f"{project_name(fmt)}-model-")


def write_spec(folder: Path, fmt: str, bases: Mapping[str, str], port: int) -> Path:
    """A Compose spec preparing the tiny checkpoint from the hub and serving it behind the gateway on `port`."""
    prepare, runtime = PREPARATIONS[fmt]
    spec = {"name": project_name(fmt), "runtime": {"kind": runtime},
            "model": {"source": {"kind": "huggingface", "repo": REPO, "revision": REVISION},
                      "parameters_billion": 0.02, "native_context": 2048, "context_length": 512, "prepare": prepare},
            "resources": {"cpu": 1}, "exposure": {"port": port}, "targets": {"compose": {}},
            "secrets": {"api-keys": {"backend": "file"}}, "security": {"base_images": dict(bases)}}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=True))
    return path


def build_options(wheels: str) -> dict[str, Any]:
    """What every build of the test's images is given besides its context: torch from the served wheel page, which
    pip reaches on loopback only from the host network."""
    return {"build_args": {"TORCH_FIND_LINKS": wheels}, "extra_args": ("--network", "host")}


def warm(work: Path) -> None:
    """Build each format's preparation image up to its download stage, as the test will build it."""
    base = publish_base_image(ensure_local_registry())
    with served_torch_wheel() as wheels:
        for fmt in PREPARATIONS:
            folder = work / fmt
            folder.mkdir()
            spec = write_spec(folder, fmt, {"python": base.reference}, free_loopback_port())
            for service, (context, _) in rendered_builds(spec, folder / "bundle").items():
                if is_preparation_service(service, fmt):
                    started = time.monotonic()
                    docker_build(context, f"{WARM_TAG}:{fmt}", secrets={"ca_bundle": HOST_CA_BUNDLE},
                                 target=DOWNLOAD_STAGE, **build_options(wheels))
                    print(f"{service}: stage {DOWNLOAD_STAGE} built in {time.monotonic() - started:.0f}s", flush=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="model-prep-warm-") as work:
        warm(Path(work))
