"""A rendered Compose project comes up healthy with docker-compose 1.29 and answers only with an API key."""

from __future__ import annotations

import json
import secrets

from tests.integration.compose_projects import Project, containers_by_service, health_of
from tests.integration.stacks import GATEWAY_PORT, http


def test_every_service_reports_healthy(compose_project: Project) -> None:
    assert health_of(compose_project) == {"tiny-onnx": "healthy", "tiny-onnx-gateway": "healthy"}


def test_authenticated_chat_completion_through_the_gateway(compose_project: Project) -> None:
    base = f"http://127.0.0.1:{GATEWAY_PORT}"
    auth = {"Authorization": f"Bearer {compose_project.api_key}"}
    status, body = http("GET", f"{base}/v1/models", headers=auth)
    assert status == 200, body
    model = json.loads(body)["data"][0]["id"]
    status, body = http("POST", f"{base}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6, "temperature": 0,
    }, headers=auth)
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["role"] == "assistant"


def test_requests_without_a_valid_key_are_refused(compose_project: Project) -> None:
    base = f"http://127.0.0.1:{GATEWAY_PORT}"
    request = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
    assert http("POST", f"{base}/v1/chat/completions", request)[0] == 401
    wrong = {"Authorization": f"Bearer {secrets.token_hex(24)}"}
    assert http("POST", f"{base}/v1/chat/completions", request, headers=wrong)[0] == 401


def test_only_the_gateway_is_published(compose_project: Project) -> None:
    published = {service: {port: [b["HostIp"] for b in bindings]
                           for port, bindings in (inspected["NetworkSettings"]["Ports"] or {}).items() if bindings}
                 for service, inspected in containers_by_service(compose_project).items()}
    assert published == {"tiny-onnx": {}, "tiny-onnx-gateway": {f"{GATEWAY_PORT}/tcp": ["127.0.0.1"]}}
