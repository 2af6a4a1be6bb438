"""A copy of a rendered bundle brought up with docker-compose 1.29 as the README says: secrets written, built
images tagged as Compose names them, `up -d`, and `down -v` afterwards."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.integration.stacks import ALERT_TOKEN_SECRET, RenderedStack, wait_for
from tests.support.docker_engine import docker
from tests.support.tools import find_executable, run, tail

HEALTH_ATTEMPTS = 90
HEALTH_PAUSE = 3.0
KEY_ID = "integration"


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    api_key: str
    alert_token: str
    profiles: tuple[str, ...] = ()
    override: str = ""
    """A compose override file next to compose.yaml, for what only the test's stand-in images need."""


def compose(project: Project, *args: str, timeout: float = 600) -> str:
    """Run docker-compose 1.29 on the rendered project, as the README tells users to."""
    binary = find_executable("docker-compose", "apt-get install docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    profiles = [arg for profile in project.profiles for arg in ("--profile", profile)]
    files = ["--file", str(project.directory / "compose.yaml")]
    if project.override:
        files += ["--file", str(project.directory / project.override)]
    result = run([binary, "--project-name", project.name, "--project-directory", str(project.directory),
                  *files, *profiles, *args],
                 cwd=project.directory, env=env, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)} failed ({result.returncode}):\n{tail(result.stderr)}")
    return result.stdout


def compose_image_name(project: str, service: str) -> str:
    """What docker-compose 1.29 calls the image of a service that has only a build."""
    return f"{re.sub(r'[^-_a-z0-9]', '', project.lower())}_{service}"


def health_of(project: Project) -> dict[str, str]:
    """Each running container's service name and health status."""
    states = {}
    for container in compose(project, "ps", "--quiet").split():
        inspected = json.loads(docker("inspect", container))[0]
        service = inspected["Config"]["Labels"]["com.docker.compose.service"]
        states[service] = (inspected["State"].get("Health") or {}).get("Status", inspected["State"]["Status"])
    return states


def container_of(project: Project, service: str) -> str:
    """The container id of one service."""
    (container,) = compose(project, "ps", "--quiet", service).split()
    return container


def _write_secret(directory: Path, name: str, text: str) -> None:
    """Compose bind-mounts secret files as they are on the host: the README says to hand them to UID 10001."""
    path = directory / "secrets" / name
    path.write_text(text)
    if os.geteuid() == 0:
        os.chown(path, 10001, 10001)
        path.chmod(0o400)
    else:
        path.chmod(0o444)


@contextmanager
def running_project(stack: RenderedStack, folder: Path, services: int, profiles: tuple[str, ...] = (),
                    override: dict | None = None) -> Iterator[Project]:
    """Copy the bundle, write its secrets, tag the built images, `up -d`; wait until `services` are healthy."""
    shutil.copytree(stack.bundle, folder)
    directory = folder / "compose"
    (directory / "secrets").mkdir(mode=0o700)
    if override:
        (directory / "test.override.yaml").write_text(yaml.safe_dump(override))
    current = Project(f"slmit{uuid.uuid4().hex[:8]}", directory, secrets.token_hex(24), secrets.token_hex(24),
                      profiles, "test.override.yaml" if override else "")
    _write_secret(directory, "api-keys", f"# key id:key\n{KEY_ID}:{current.api_key}\n")
    _write_secret(directory, ALERT_TOKEN_SECRET, current.alert_token)
    document = yaml.safe_load((directory / "compose.yaml").read_text())
    chosen = {name: body for name, body in document["services"].items()
              if not set(body.get("profiles", [])) - set(profiles)}
    for service, body in chosen.items():
        docker("tag", stack.images[Path(body["build"]["context"]).name], compose_image_name(current.name, service))
    try:
        compose(current, "up", "--detach", "--no-build")
        wait_for(lambda: set(health_of(current).values()) == {"healthy"} and len(health_of(current)) == services,
                 "every service reporting healthy", HEALTH_ATTEMPTS, HEALTH_PAUSE,
                 describe=lambda: f"{health_of(current)}\n{compose(current, 'logs', '--tail', '30')}")
        yield current
    finally:
        compose(current, "down", "--volumes", "--remove-orphans")
        for service in chosen:
            docker("rmi", compose_image_name(current.name, service))
