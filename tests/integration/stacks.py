"""A Compose-target ONNX stack on the suite's own base image and tiny model, rendered and built as a user would."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.images import build_owners, built_image
from slm_deploy.render.smoke import with_smoke
from slm_deploy.render.writer import write_bundle
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import load_deployment
from tests.support.docker_engine import docker, docker_build, image_exists

NAME = "tiny-onnx"
LLAMA_NAME = "tiny-llama"
GGUF_REPO = "slm-test/tiny-llama-GGUF"
"""Never downloaded from: the model volume is seeded with the file and the spec pins its checksum."""
ONNX_K8S_NAME = "tiny-onnx-k8s"
ONNX_REPO, ONNX_REVISION, ONNX_PATH = "slm-test/tiny-onnx", "0" * 40, "cpu"
"""Never downloaded from either: the harness seeds the claim with the tiny model where the Job would put it."""


def free_loopback_port() -> int:
    """A port nothing on 127.0.0.1 holds right now, so parallel or leftover runs do not collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The gateways' and the monitoring services' ports on 127.0.0.1, chosen once per test session.
GATEWAY_PORT = free_loopback_port()
LLAMA_GATEWAY_PORT = free_loopback_port()
PROMETHEUS_PORT = free_loopback_port()
ALERTMANAGER_PORT = free_loopback_port()
WEBHOOK_PORT = 9099
"""Where the test's webhook receiver listens, on the loopback of Alertmanager's own network namespace."""
ALERT_TOKEN_SECRET = "alert-token"


@dataclass(frozen=True)
class RenderedStack:
    """A bundle on disk plus the images its Dockerfiles produce, keyed by service name."""

    bundle: Path
    images: Mapping[str, str]


def spec_path(stack: RenderedStack) -> Path:
    """The spec the stack's bundle was rendered from (written beside it by write_spec)."""
    return stack.bundle.parent / "spec.yaml"


def write_spec(folder: Path, base_reference: str, model_dir: Path, monitoring_images: Mapping[str, str]) -> Path:
    """A bare spec: the tiny local ONNX model, gateway on, both Python bases overridden to the local image;
    monitoring scraping every 5 s, Prometheus and Alertmanager built from the Debian-made stand-ins, alerts to
    a webhook on Alertmanager's loopback with a bearer token from a secret file."""
    spec = {
        "name": NAME,
        "model": {"source": {"kind": "onnx", "path": str(model_dir)}, "parameters_billion": 0.02,
                  "context_length": 256},
        "runtime": {"kind": "onnxruntime", "execution_provider": "cpu"},
        "resources": {"cpu": 1},
        "serving": {"concurrency": 2},
        "exposure": {"port": GATEWAY_PORT},
        "targets": {"compose": {}},
        "secrets": {"api-keys": {"backend": "file"}, ALERT_TOKEN_SECRET: {"backend": "file"}},
        "security": {"base_images": {"python": base_reference, "debian": base_reference, **monitoring_images}},
        "monitoring": {
            "scrape_interval_seconds": 5, "logs": False,
            "ports": {"prometheus": PROMETHEUS_PORT, "alertmanager": ALERTMANAGER_PORT},
            "receiver": {"kind": "webhook", "url": f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                         "token_secret": ALERT_TOKEN_SECRET},
        },
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=True))
    return path


def write_onnx_kubernetes_spec(folder: Path, *, python_image: str, registry: str) -> Path:
    """The ONNX stack for Kubernetes: the model comes from a pinned repository, here seeded into the claim."""
    spec = {
        "name": ONNX_K8S_NAME,
        "model": {"source": {"kind": "onnx", "repo": ONNX_REPO, "revision": ONNX_REVISION, "path": ONNX_PATH},
                  "parameters_billion": 0.02, "native_context": 512, "context_length": 512},
        "runtime": {"kind": "onnxruntime", "execution_provider": "cpu"},
        "resources": {"cpu": 1},
        # enough slots and queue (4 per slot) to hold about 20 s of work from the tiny, fast model in the drain test
        "serving": {"concurrency": 32},
        "targets": {"docker": {"registry": registry}, "kubernetes": {}},
        "secrets": {"api-keys": {}},
        "security": {"base_images": {"python": python_image, "debian": python_image}},  # debian: the egress proxy
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=True))
    return path


def write_llamacpp_spec(folder: Path, *, llamacpp_image: str, python_image: str, gguf: Path,
                        registry: str) -> Path:
    """A llama.cpp spec for every target the tests run: Compose, and Kubernetes with autoscaling on its queue."""
    spec = {
        "name": LLAMA_NAME,
        "model": {"source": {"kind": "gguf", "repo": GGUF_REPO, "file": gguf.name,
                             "sha256": hashlib.sha256(gguf.read_bytes()).hexdigest()},
                  "parameters_billion": 0.02, "native_context": 8192, "context_length": 4096,
                  "quantisation": "q4_k_m"},
        "runtime": {"kind": "llamacpp"},
        "resources": {"cpu": 1},
        "serving": {"concurrency": 1, "autoscaling": {"enabled": True, "min_replicas": 1, "max_replicas": 2}},
        "exposure": {"port": LLAMA_GATEWAY_PORT},
        "targets": {"docker": {"registry": registry}, "compose": {}, "kubernetes": {}},
        "secrets": {"api-keys": {"backend": "kubernetes"}},  # Compose reads it from compose/secrets/ too
        "security": {"base_images": {"llamacpp": llamacpp_image, "python": python_image,
                                     "debian": python_image}},  # the suite's bookworm base: the egress proxy's too
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=True))
    return path


def rendered_builds(spec_path: Path, out: Path, *, monitoring: bool = False,
                    stand_ins: Callable[[Path], None] | None = None) -> dict[str, tuple[Path, str]]:
    """Render the bundle and list its image builds, service name to build context and content tag; the monitoring
    profile's images only with `monitoring`; `stand_ins` edits the written bundle first, for what cannot be built here."""
    deployment = load_deployment(spec_path)
    write_bundle(render_bundle(deployment), out)
    if stand_ins is not None:
        stand_ins(out)
    return {owner.name: (out / "docker" / owner.name, built_image(deployment, owner))
            for owner in build_owners(with_smoke(deployment, plan_deployment(deployment)))  # the smoke image too
            if monitoring or owner.role != "monitoring"}


def render_and_build(spec_path: Path, out: Path, ca_bundle: Path, *, push: bool = False,
                     monitoring: bool = False, build_args: Mapping[str, str] | None = None,
                     extra_args: Sequence[str] = (), stand_ins: Callable[[Path], None] | None = None) -> RenderedStack:
    """Render the bundle and build each image from its rendered Dockerfile (skipped when the content tag exists);
    `push` sends them to the spec's registry, where Kubernetes pulls them from; the monitoring profile's images
    only with `monitoring` (they need the Debian stand-ins of Prometheus and Alertmanager). `build_args` and
    `extra_args` go to every build; `stand_ins` edits the written bundle first, for what cannot be built here."""
    images = {}
    for name, (context, tag) in rendered_builds(spec_path, out, monitoring=monitoring, stand_ins=stand_ins).items():
        if not image_exists(tag):
            docker_build(context, tag, secrets={"ca_bundle": ca_bundle}, build_args=build_args, extra_args=extra_args)
        if push:
            docker("push", "--quiet", tag)
        images[name] = tag
    return RenderedStack(out, images)


def http(method: str, url: str, body: dict | None = None, headers: Mapping[str, str] | None = None,
         timeout: float = 120) -> tuple[int, bytes]:
    """One HTTP exchange; error statuses are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(condition: Callable[[], bool], what: str, attempts: int, pause: float = 1.0,
             describe: Callable[[], str] = lambda: "") -> None:
    """Poll a condition a bounded number of times; fail with the caller's diagnostics."""
    for _ in range(attempts):
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(pause)
    raise AssertionError(f"{what} did not happen after {attempts} attempts\n{describe()}")
