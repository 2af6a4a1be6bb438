"""Build and push images with the Docker client's BuildKit path, which reads build secrets (the CA bundle)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from slm_deploy.errors import BundleError, SlmDeployError

DOCKER_ENV = "SLM_DEPLOY_DOCKER"
"""Which docker client to run (default: `docker` on PATH); it must build with BuildKit (DOCKER_BUILDKIT=1)."""
CA_BUNDLE_SECRET = "ca_bundle"
"""The BuildKit secret id the rendered Dockerfiles read (RUN --mount=type=secret,id=ca_bundle)."""
LOG_LINES = 15


class DockerError(SlmDeployError):
    """The Docker client or engine failed (a build step, a push refused); not the user's input."""

    exit_code = 1


def docker_client() -> str:
    """The docker executable, or an error that says how to choose one."""
    chosen = os.environ.get(DOCKER_ENV, "docker")
    found = shutil.which(chosen)
    if found is None:
        raise BundleError(f"{DOCKER_ENV}: no docker client found\n  allowed: a docker CLI that builds with BuildKit "
                          "(docker.io, docker-ce)\n  hint: install Docker or set SLM_DEPLOY_DOCKER to its path")
    return found


def _run(argv: list[str], what: str) -> str:
    """Run one docker command; a failure reports the tail of its output (build logs never hold secret values)."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
                                check=False)
    except OSError as exc:
        raise DockerError(f"{what}: cannot run docker ({exc.strerror or exc.__class__.__name__})") from None
    if result.returncode != 0:
        log = "\n".join((result.stdout + result.stderr).splitlines()[-LOG_LINES:])
        raise DockerError(f"{what} failed (docker exit {result.returncode}):\n{log}")
    return result.stdout


def build_image(context: Path, tags: list[str], ca_bundle: Path | None,
                build_args: dict[str, str] | None = None) -> None:
    """Build one context with BuildKit under every tag; the CA bundle reaches RUN steps as a build secret only."""
    argv = [docker_client(), "build", "--progress=plain"]
    for tag in tags:
        argv += ["--tag", tag]
    for name, value in (build_args or {}).items():
        argv += ["--build-arg", f"{name}={value}"]
    if ca_bundle is not None:
        argv += ["--secret", f"id={CA_BUNDLE_SECRET},src={ca_bundle}"]
    _run([*argv, str(context)], f"building {context.name}")


def push_image(tags: list[str]) -> str:
    """Push every tag and return the digest the registry stored (sha256:...), as `docker pull` would resolve it."""
    client = docker_client()
    for tag in tags:
        _run([client, "push", "--quiet", tag], f"pushing {tag}")
    repository = tags[0].rsplit(":", 1)[0]
    inspected = json.loads(_run([client, "image", "inspect", "--format", "{{json .RepoDigests}}", tags[0]],
                                f"reading the digest of {tags[0]}") or "[]")
    digests = [entry.split("@", 1)[1] for entry in inspected or [] if entry.startswith(f"{repository}@")]
    if not digests:
        raise DockerError(f"pushing {tags[0]}: the registry reported no digest for it")
    return digests[0]
