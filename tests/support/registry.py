"""A real local registry (Debian's docker-registry) so images carry genuine `@sha256` digests in tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cache import cache_root, exclusive
from .docker_engine import docker, docker_cli
from .tools import run, tail, unavailable

DEFAULT_PORT = 5000
START_TIMEOUT = 30
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class RegistryError(RuntimeError):
    """The local registry answered unexpectedly."""


def registry_port() -> int:
    """Loopback port for the test registry; 127.0.0.0/8 is an insecure registry by default."""
    return int(os.environ.get("SLM_DEPLOY_REGISTRY_PORT", DEFAULT_PORT))


def registry_answers(address: str) -> bool:
    """Tell a Docker registry (v2 API) apart from any other service on the port."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=3) as response:
            return response.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
    except urllib.error.HTTPError as error:
        return error.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
    except OSError:
        return False


def ensure_local_registry(port: int | None = None) -> str:
    """Reuse a registry already listening on the port, or start one whose data persists in the cache."""
    address = f"127.0.0.1:{port or registry_port()}"
    if registry_answers(address):
        return address
    with exclusive("registry"):
        if registry_answers(address):
            return address
        binary = shutil.which("docker-registry")
        if binary is None:
            raise unavailable("docker-registry", "not installed (apt-get install docker-registry)")
        home = cache_root() / "registry"
        (home / "data").mkdir(parents=True, exist_ok=True)
        config = home / "config.yml"
        config.write_text(_config_text(address, home / "data"))
        log_path = home / "registry.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (home / "registry.pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if registry_answers(address):
                return address
            if process.poll() is not None:
                break
            time.sleep(0.2)
        log_tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        raise unavailable("docker-registry", f"did not answer on {address}; log {log_path}:\n{log_tail}")


def manifest_digest(address: str, repository: str, reference: str) -> str | None:
    """Ask the registry which digest a tag resolves to, as any client pulling it would see."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            digest = response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise RegistryError(f"registry {address} answered {error.code} for {repository}:{reference}") from error
    if not digest or not digest.startswith("sha256:"):
        raise RegistryError(f"registry {address} gave no sha256 digest for {repository}:{reference}")
    return digest


def publish_image(local_tag: str, address: str, repository: str, tag: str) -> str:
    """Push a local image as repository:tag and return `address/repository:tag@digest`, skipping a repeat push."""
    remote = f"{address}/{repository}:{tag}"
    with exclusive(f"push-{repository.replace('/', '_')}-{tag}"):
        docker("tag", local_tag, remote)
        digest = manifest_digest(address, repository, tag)
        if digest is None or not _local_image_has_digest(remote, digest):
            pushed = docker("push", remote)
            digest = manifest_digest(address, repository, tag)
            if digest is None:
                raise RegistryError(f"{remote} is missing from the registry right after a push:\n{tail(pushed, 5)}")
    return f"{remote}@{digest}"


def _local_image_has_digest(remote: str, digest: str) -> bool:
    """Tell whether the local image was pushed as exactly this digest, so a repeat push can be skipped."""
    name = remote.rsplit(":", 1)[0]
    inspected = run([docker_cli(), "image", "inspect", "--format", "{{json .RepoDigests}}", remote], timeout=60)
    if inspected.returncode != 0:
        return False
    return f"{name}@{digest}" in json.loads(inspected.stdout or "[]")


def _config_text(address: str, data_dir: Path) -> str:
    """Registry configuration: loopback only, filesystem storage in the cache, deletes allowed."""
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {data_dir}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
