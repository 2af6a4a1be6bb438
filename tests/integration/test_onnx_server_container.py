"""The ONNX Runtime GenAI server image, built from the rendered Dockerfile, serves the tiny model hardened."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.stacks import NAME, RenderedStack, http, wait_for
from tests.servers.ortgenai_process import chat_request, exchange, request_bytes
from tests.support.docker_engine import docker

PORT = 8001
UID = 10001
HEALTH_ATTEMPTS = 180


@pytest.fixture(scope="module")
def server(onnx_stack: RenderedStack) -> Iterator[tuple[str, str]]:
    """Run the server as Compose would: read-only root, no capabilities, model mounted read-only."""
    container = f"slm-it-onnx-{uuid.uuid4().hex[:8]}"
    model = next(line.split(":", 1)[0].strip().lstrip("- ")
                 for line in (onnx_stack.bundle / "compose" / "compose.yaml").read_text().splitlines()
                 if line.strip().endswith(":/models/onnx:ro"))
    docker(
        "run", "--detach", "--name", container,
        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "--tmpfs", "/tmp:size=64m,mode=1777",
        "--tmpfs", f"/var/cache/slm:size=64m,uid={UID},gid={UID},mode=0700",
        "--pids-limit", "256", "--memory", "1g",
        "--volume", f"{model}:/models/onnx:ro",
        "--publish", f"127.0.0.1::{PORT}",
        onnx_stack.images[NAME],
    )
    try:
        address = docker("port", container, f"{PORT}/tcp").splitlines()[0].strip()
        base = f"http://{address}"
        wait_for(lambda: http("GET", f"{base}/health", timeout=5)[0] == 200, "the server reporting healthy",
                 HEALTH_ATTEMPTS, describe=lambda: docker("logs", "--tail", "40", container))
        yield container, base
    finally:
        docker("rm", "--force", "--volumes", container)


def test_health_is_ok_once_loaded(server: tuple[str, str]) -> None:
    _, base = server
    status, body = http("GET", f"{base}/health")
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_models_lists_the_served_model(server: tuple[str, str]) -> None:
    _, base = server
    status, body = http("GET", f"{base}/v1/models")
    assert status == 200 and len(json.loads(body)["data"]) == 1


def test_chat_completion_answers(server: tuple[str, str]) -> None:
    _, base = server
    model = json.loads(http("GET", f"{base}/v1/models")[1])["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Hello, how are you?"}],
        "max_tokens": 8, "temperature": 0,
    })
    answer = json.loads(body)
    assert status == 200, body
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["role"] == "assistant"
    assert 0 < answer["usage"]["completion_tokens"] <= 8


def test_streamed_chat_completion_ends_with_done(server: tuple[str, str]) -> None:
    _, base = server
    model = json.loads(http("GET", f"{base}/v1/models")[1])["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
        "max_tokens": 8, "temperature": 0, "stream": True,
    })
    events = [line.removeprefix("data: ") for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)


def test_metrics_are_prometheus_text_counting_requests(server: tuple[str, str]) -> None:
    _, base = server
    http("GET", f"{base}/v1/models")
    status, body = http("GET", f"{base}/metrics")
    text = body.decode()
    assert status == 200 and "# TYPE " in text
    assert any(line.startswith(("ortgenai_", "slm_")) and "request" in line for line in text.splitlines())


def test_process_runs_unprivileged_on_a_read_only_root(server: tuple[str, str]) -> None:
    container, _ = server
    inspected = json.loads(docker("inspect", container))[0]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["HostConfig"]["CapDrop"] == ["ALL"] and not inspected["HostConfig"]["CapAdd"]
    assert inspected["Config"]["User"] == f"{UID}:{UID}"
    status = docker("exec", container, "cat", "/proc/1/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == [str(UID)] * 4 and fields["Gid"].split() == [str(UID)] * 4
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0 and int(fields["CapBnd"], 16) == 0
    assert "python3 -m ortgenai_server" in docker("exec", container, "cat", "/proc/1/cmdline").replace("\0", " ")
    write = json.loads(docker("exec", container, "python3", "-c",
                              "import json\ntry:\n open('/opt/probe','w')\n print(json.dumps('writable'))\n"
                              "except OSError as e:\n print(json.dumps(e.strerror))"))
    assert write == "Read-only file system"


def test_model_preparation_tooling_is_installed(server: tuple[str, str]) -> None:
    container, _ = server
    version = docker("exec", container, "python3", "-c",
                     "import huggingface_hub; print(huggingface_hub.__version__)").strip()
    assert version == "2.4.0"


def test_hostile_inputs_are_refused_in_the_image_without_a_5xx(server: tuple[str, str]) -> None:
    _, base = server
    port = int(base.rsplit(":", 1)[1])
    model = json.loads(http("GET", f"{base}/v1/models")[1])["data"][0]["id"]
    seeded = exchange(port, chat_request({"model": model, "messages": [{"role": "user", "content": "Hi"}],
                                          "max_tokens": 4, "seed": 2**40}))
    assert seeded.status == 200, seeded.body
    surrogate = exchange(port, chat_request(
        b'{"model": "%s", "messages": [{"role": "user", "content": "\\ud800"}]}' % model.encode()))
    assert (surrogate.status, surrogate.json()["error"]["param"]) == (400, "messages[0].content")
    oversize = exchange(port, request_bytes("POST", "/v1/chat/completions", headers={
        "Content-Type": "application/json", "Content-Length": str(64 * 1024 * 1024)}))
    assert (oversize.status, oversize.closes) == (413, True)
