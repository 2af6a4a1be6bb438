"""Bring a rendered Compose project up with docker-compose 1.29 the way its README tells a user to."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from slm_deploy.render.compose import SMOKE_PROFILE
from tests.integration.stacks import RenderedStack, wait_for
from tests.support.docker_engine import docker
from tests.support.tools import find_executable, run, tail

HEALTH_ATTEMPTS = 90
HEALTH_PAUSE = 3.0
KEY_ID = "integration"
APP_UID = 10001


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    api_key: str
    profiles: tuple[str, ...] = ()
    override: str = ""
    """A compose override file next to compose.yaml, for what only the test's stand-in images need."""


OVERRIDE = "test.override.yaml"


def compose_run(project: Project, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run docker-compose 1.29 on the rendered project, with its profiles; the finished process, whatever its exit
    code."""
    binary = find_executable("docker-compose", "apt-get install docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    files = ["--file", str(project.directory / "compose.yaml")]
    if project.override:
        files += ["--file", str(project.directory / project.override)]
    profiles = [arg for profile in project.profiles for arg in ("--profile", profile)]
    return run([binary, "--project-name", project.name, "--project-directory", str(project.directory),
                *files, *profiles, *args],
               cwd=project.directory, env=env, timeout=timeout)


def compose(project: Project, *args: str, timeout: float = 600) -> str:
    """Run docker-compose 1.29 on the rendered project; its output, or a failure with its error."""
    result = compose_run(project, *args, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)} failed ({result.returncode}):\n{tail(result.stderr)}")
    return result.stdout


def compose_image_name(project: str, service: str) -> str:
    """What docker-compose 1.29 calls the image of a service that has only a build."""
    return f"{re.sub(r'[^-_a-z0-9]', '', project.lower())}_{service}"


def containers_by_service(project: Project, *, every: bool = False) -> dict[str, dict]:
    """`docker inspect` of each container of the project, by service name (`every` includes exited ones)."""
    found = {}
    for container in compose(project, "ps", "--quiet", *(["--all"] if every else [])).split():
        inspected = json.loads(docker("inspect", container))[0]
        found[inspected["Config"]["Labels"]["com.docker.compose.service"]] = inspected
    return found


def health_of(project: Project) -> dict[str, str]:
    """Each running container's service name and health status."""
    return {service: (inspected["State"].get("Health") or {}).get("Status", inspected["State"]["Status"])
            for service, inspected in containers_by_service(project).items()}


def _write_secret(directory: Path, name: str, text: str) -> None:
    """Compose bind-mounts secret files as they are on the host: the README says to hand them to UID 10001."""
    path = directory / "secrets" / name
    path.write_text(text)
    if os.geteuid() == 0:
        os.chown(path, APP_UID, APP_UID)
        path.chmod(0o400)
    else:
        path.chmod(0o444)


@contextlib.contextmanager
def running_project(stack: RenderedStack, folder: Path, long_running: set[str],
                    seed_volumes: Callable[[Project], None] | None = None, *, profiles: tuple[str, ...] = (),
                    override: dict | None = None, secrets_files: Mapping[str, str] | None = None,
                    host_ports: Mapping[int, int] | None = None) -> Iterator[Project]:
    """Copy the bundle, write the secrets the README asks for, tag the built images of the services the profiles
    select (and the smoke checks, run on demand), `up -d` until every long-running service is healthy; `down -v`
    after. `seed_volumes` fills named volumes first (made with `make_project_volume`; `up --no-start` cannot make
    them, since it waits for one-shot steps it never starts); `override` is a compose override for the test's
    stand-ins; `secrets_files` adds secrets; `host_ports` publishes a rendered loopback port on another one, so a
    second project of the same bundle can run beside the session's."""
    shutil.copytree(stack.bundle, folder)
    directory = folder / "compose"
    for rendered, instead in (host_ports or {}).items():
        compose_file = directory / "compose.yaml"
        text = compose_file.read_text()
        assert f"- 127.0.0.1:{rendered}:" in text, f"no loopback port {rendered} is published"
        compose_file.write_text(text.replace(f"- 127.0.0.1:{rendered}:", f"- 127.0.0.1:{instead}:"))
    api_key = secrets.token_hex(24)
    (directory / "secrets").mkdir(mode=0o700)
    for name, text in {"api-keys": f"# key id:key\n{KEY_ID}:{api_key}\n", **(secrets_files or {})}.items():
        _write_secret(directory, name, text)
    if override:
        (directory / OVERRIDE).write_text(yaml.safe_dump(override))
    current = Project(f"slmit{uuid.uuid4().hex[:8]}", directory, api_key, profiles, OVERRIDE if override else "")
    document = yaml.safe_load((directory / "compose.yaml").read_text())
    built = {service: Path(body["build"]["context"]).name for service, body in document["services"].items()
             if "build" in body and set(body.get("profiles", [])) <= {*profiles, SMOKE_PROFILE}}
    for service, owner in built.items():
        docker("tag", stack.images[owner], compose_image_name(current.name, service))
    try:
        if seed_volumes is not None:
            seed_volumes(current)
        compose(current, "up", "--detach", "--no-build")
        wait_for(lambda: {s: h for s, h in health_of(current).items() if s in long_running}
                 == {s: "healthy" for s in long_running},
                 "every long-running service reporting healthy", HEALTH_ATTEMPTS, HEALTH_PAUSE,
                 describe=lambda: f"{health_of(current)}\n{compose(current, 'logs', '--tail', '30')}")
        yield current
    finally:
        compose(current, "down", "--volumes", "--remove-orphans")
        for service in built:
            docker("rmi", compose_image_name(current.name, service))


def make_project_volume(project: Project, name: str) -> str:
    """Create a named volume of the project as docker-compose 1.29 would (its engine-level name and labels, so
    `up` adopts it and `down --volumes` removes it); returns that name."""
    engine_name = f"{re.sub(r'[^-_a-z0-9]', '', project.name.lower())}_{name}"
    docker("volume", "create", "--label", f"com.docker.compose.project={project.name}",
           "--label", f"com.docker.compose.volume={name}", "--label", "com.docker.compose.version=1.29.2", engine_name)
    return engine_name
