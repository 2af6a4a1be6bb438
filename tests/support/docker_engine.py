"""Talk to the local Docker engine through Debian's client, whose BuildKit path can read build secrets.

The docker SDK builds with the classic builder (no ``RUN --mount=type=secret``) and the client at
/usr/local/bin/docker wants a buildx plugin, so builds shell out to /usr/bin/docker with
``DOCKER_BUILDKIT=1``.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .tools import run, tail, unavailable

DEBIAN_DOCKER_CLI = "/usr/bin/docker"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ENGINE_PROBE_TIMEOUT = 20
LARGEST_REDACTED_SECRET = 64 * 1024


class DockerBuildError(RuntimeError):
    """A build failed; the message carries the tail of the build log with secret values removed."""


class DockerCommandError(RuntimeError):
    """A docker command other than build failed."""


def docker_cli() -> str:
    """Use Debian's client unless SLM_DEPLOY_DOCKER_CLI points at another BuildKit-capable one."""
    return os.environ.get("SLM_DEPLOY_DOCKER_CLI", DEBIAN_DOCKER_CLI)


@functools.lru_cache(maxsize=1)
def docker_available() -> tuple[bool, str]:
    """Answer once per run whether an engine responds, with the reason when it does not."""
    cli = docker_cli()
    if not (Path(cli).is_file() and os.access(cli, os.X_OK)):
        return False, f"{cli} not found (apt-get install docker.io)"
    try:
        probe = run([cli, "version", "--format", "{{.Server.Version}}"], timeout=ENGINE_PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, f"`{cli} version` did not answer within {ENGINE_PROBE_TIMEOUT}s"
    except OSError as error:
        return False, f"cannot run {cli}: {error}"
    if probe.returncode != 0:
        return False, f"no Docker engine answers: {tail(probe.stderr, 3) or probe.stdout.strip()}"
    return True, f"Docker engine {probe.stdout.strip()}"


def require_docker() -> None:
    """Skip the calling test or fixture with the engine's reason when no engine answers (fail in CI)."""
    available, reason = docker_available()
    if not available:
        raise unavailable("docker", reason)


def docker(*args: str, timeout: float = 600) -> str:
    """Run one docker command and return its stdout, raising with stderr when it fails."""
    result = run([docker_cli(), *args], timeout=timeout)
    if result.returncode != 0:
        raise DockerCommandError(f"docker {' '.join(args[:2])} failed ({result.returncode}):\n{tail(result.stderr)}")
    return result.stdout


def image_exists(reference: str) -> bool:
    """Tell whether the engine already holds an image, so cached builds are skipped."""
    return run([docker_cli(), "image", "inspect", reference], timeout=60).returncode == 0


def docker_build(
    context_dir: Path,
    tag: str,
    secrets: Mapping[str, Path] | None = None,
    build_args: Mapping[str, str] | None = None,
    *,
    dockerfile: Path | None = None,
    target: str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 1800,
) -> str:
    """Build with BuildKit so `RUN --mount=type=secret` works; return the image id (sha256:...)."""
    require_docker()
    secrets = dict(secrets or {})
    for secret_id, source in secrets.items():
        if not Path(source).is_file():
            raise DockerBuildError(f"build secret {secret_id!r}: source file {source} does not exist")
    with tempfile.TemporaryDirectory(prefix="slm-build-") as scratch:
        iid_file = Path(scratch) / "image-id"
        argv = [docker_cli(), "build", "--progress=plain", "--iidfile", str(iid_file), "--tag", tag]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        if target is not None:
            argv += ["--target", target]
        for secret_id, source in sorted(secrets.items()):
            argv += ["--secret", f"id={secret_id},src={source}"]
        for name, value in sorted((build_args or {}).items()):
            argv += ["--build-arg", f"{name}={value}"]
        argv += [*extra_args, str(context_dir)]
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        result = run(argv, env=env, timeout=timeout)
        log = redact(result.stdout + result.stderr, secrets.values())
        if result.returncode != 0:
            raise DockerBuildError(f"docker build of {tag} from {context_dir} failed ({result.returncode}):\n{tail(log)}")
        return iid_file.read_text().strip()


def redact(text: str, secret_files: Iterable[Path]) -> str:
    """Remove secret file contents from build output before it reaches an error message."""
    for source in secret_files:
        path = Path(source)
        if path.stat().st_size > LARGEST_REDACTED_SECRET:
            continue
        value = path.read_text(errors="replace").strip()
        if value:
            text = text.replace(value, "[secret]")
    return text
