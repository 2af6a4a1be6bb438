"""A rendered Compose project brought up with docker-compose 1.29 as the README says: secrets written, built
images tagged, `up -d`, every service healthy; `down -v` afterwards."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.integration.stacks import RenderedStack, wait_for
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


def compose_run(project: Project, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run docker-compose 1.29 on the rendered project, as the README tells users to; the completed process."""
    binary = find_executable("docker-compose", "apt-get install docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return run([binary, "--project-name", project.name, "--project-directory", str(project.directory),
                "--file", str(project.directory / "compose.yaml"), *args],
               cwd=project.directory, env=env, timeout=timeout)


def compose(project: Project, *args: str, timeout: float = 600) -> str:
    """Run docker-compose on the project; its output, or a failure with its error."""
    result = compose_run(project, *args, timeout=timeout)
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


def running_project(onnx_stack: RenderedStack, root: Path) -> Iterator[Project]:
    """Copy the bundle, write the secret the README asks for, tag the built images, `up -d`; `down -v` after."""
    folder = root / "bundle"
    shutil.copytree(onnx_stack.bundle, folder)
    directory = folder / "compose"
    api_key = secrets.token_hex(24)
    (directory / "secrets").mkdir(mode=0o700)
    key_file = directory / "secrets" / "api-keys"
    key_file.write_text(f"# key id:key\n{KEY_ID}:{api_key}\n")
    # Compose bind-mounts secret files as they are on the host: the README says to hand them to UID 10001.
    if os.geteuid() == 0:
        os.chown(key_file, 10001, 10001)
        key_file.chmod(0o400)
    else:
        key_file.chmod(0o444)
    current = Project(f"slmit{uuid.uuid4().hex[:8]}", directory, api_key)
    document = yaml.safe_load((directory / "compose.yaml").read_text())
    for service, body in document["services"].items():
        owner = Path(body["build"]["context"]).name
        docker("tag", onnx_stack.images[owner], compose_image_name(current.name, service))
    try:
        compose(current, "up", "--detach", "--no-build")
        running = [s for s, body in document["services"].items() if not body.get("profiles")]
        wait_for(lambda: set(health_of(current).values()) == {"healthy"} and len(health_of(current)) == len(running),
                 "every service reporting healthy", HEALTH_ATTEMPTS, HEALTH_PAUSE,
                 describe=lambda: f"{health_of(current)}\n{compose(current, 'logs', '--tail', '30')}")
        yield current
    finally:
        compose(current, "down", "--volumes", "--remove-orphans")
        for service in document["services"]:
            docker("rmi", compose_image_name(current.name, service))
