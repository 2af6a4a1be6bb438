"""A rendered Compose project comes up healthy with docker-compose 1.29 and answers only with an API key."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.stacks import GATEWAY_PORT, RenderedStack, http, wait_for
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


def compose(project: Project, *args: str, timeout: float = 600) -> str:
    """Run docker-compose 1.29 on the rendered project, as the README tells users to."""
    binary = find_executable("docker-compose", "apt-get install docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    result = run([binary, "--project-name", project.name, "--project-directory", str(project.directory),
                  "--file", str(project.directory / "compose.yaml"), *args],
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


@pytest.fixture(scope="module")
def project(onnx_stack: RenderedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """Copy the bundle, write the secret the README asks for, tag the built images, `up -d`; `down -v` after."""
    folder = tmp_path_factory.mktemp("compose-up") / "bundle"
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
        wait_for(lambda: set(health_of(current).values()) == {"healthy"} and len(health_of(current)) == 2,
                 "every service reporting healthy", HEALTH_ATTEMPTS, HEALTH_PAUSE,
                 describe=lambda: f"{health_of(current)}\n{compose(current, 'logs', '--tail', '30')}")
        yield current
    finally:
        compose(current, "down", "--volumes", "--remove-orphans")
        for service in document["services"]:
            docker("rmi", compose_image_name(current.name, service))


def test_every_service_reports_healthy(project: Project) -> None:
    assert health_of(project) == {"tiny-onnx": "healthy", "tiny-onnx-gateway": "healthy"}


def test_authenticated_chat_completion_through_the_gateway(project: Project) -> None:
    base = f"http://127.0.0.1:{GATEWAY_PORT}"
    auth = {"Authorization": f"Bearer {project.api_key}"}
    status, body = http("GET", f"{base}/v1/models", headers=auth)
    assert status == 200, body
    model = json.loads(body)["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6, "temperature": 0,
    }, headers=auth)
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["role"] == "assistant"


def test_requests_without_a_valid_key_are_refused(project: Project) -> None:
    base = f"http://127.0.0.1:{GATEWAY_PORT}"
    request = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
    assert http("POST", f"{base}/v1/chat/completions", request)[0] == 401
    wrong = {"Authorization": f"Bearer {secrets.token_hex(24)}"}
    assert http("POST", f"{base}/v1/chat/completions", request, headers=wrong)[0] == 401


def test_only_the_gateway_is_published(project: Project) -> None:
    published = {}
    for container in compose(project, "ps", "--quiet").split():
        inspected = json.loads(docker("inspect", container))[0]
        service = inspected["Config"]["Labels"]["com.docker.compose.service"]
        published[service] = {port: [b["HostIp"] for b in bindings]
                              for port, bindings in (inspected["NetworkSettings"]["Ports"] or {}).items() if bindings}
    assert published == {"tiny-onnx": {}, "tiny-onnx-gateway": {f"{GATEWAY_PORT}/tcp": ["127.0.0.1"]}}
