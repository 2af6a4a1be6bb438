"""The ONNX Runtime GenAI server image, built from the rendered Dockerfile, serves the tiny model hardened."""

from __future__ import annotations

import json

from tests.integration.stacks import http
from tests.servers.ortgenai_process import chat_request, exchange, request_bytes
from tests.support.docker_engine import docker

UID = 10001


def test_health_is_ok_once_loaded(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
    status, body = http("GET", f"{base}/health")
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_models_lists_the_served_model(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
    status, body = http("GET", f"{base}/v1/models")
    assert status == 200 and len(json.loads(body)["data"]) == 1


def test_chat_completion_answers(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
    model = json.loads(http("GET", f"{base}/v1/models")[1])["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Hello, how are you?"}],
        "max_tokens": 8, "temperature": 0,
    })
    answer = json.loads(body)
    assert status == 200, body
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["role"] == "assistant"
    assert 0 < answer["usage"]["completion_tokens"] <= 8


def test_streamed_chat_completion_ends_with_done(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
    model = json.loads(http("GET", f"{base}/v1/models")[1])["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
        "max_tokens": 8, "temperature": 0, "stream": True,
    })
    events = [line.removeprefix("data: ") for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)


def test_metrics_are_prometheus_text_counting_requests(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
    http("GET", f"{base}/v1/models")
    status, body = http("GET", f"{base}/metrics")
    text = body.decode()
    assert status == 200 and "# TYPE " in text
    assert any(line.startswith(("ortgenai_", "slm_")) and "request" in line for line in text.splitlines())


def test_process_runs_unprivileged_on_a_read_only_root(onnx_server: tuple[str, str]) -> None:
    container, _ = onnx_server
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


def test_model_preparation_tooling_is_installed(onnx_server: tuple[str, str]) -> None:
    container, _ = onnx_server
    version = docker("exec", container, "python3", "-c",
                     "import huggingface_hub; print(huggingface_hub.__version__)").strip()
    assert version == "2.4.0"


def test_hostile_inputs_are_refused_in_the_image_without_a_5xx(onnx_server: tuple[str, str]) -> None:
    _, base = onnx_server
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
