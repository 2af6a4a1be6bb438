"""The real gateway with the mlx route table: clients reach the served model only, never another local folder."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers.gateway_fixtures import USAGE_OPENAI, FakeRuntime, GatewayProcess, bearer

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def client(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    process = GatewayProcess(tmp_path_factory.mktemp("mlx"), runtime.url,
                             settings={"route_table": "mlx", "exempt_paths": ("/health",)})
    with httpx.Client(base_url=process.url, timeout=20) as http:
        yield http
    process.stop()


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_the_model_a_request_names_is_dropped_so_the_server_uses_its_own(
    client: httpx.Client, runtime: FakeRuntime, route: str,
) -> None:
    body = {"model": "../../other-model", "messages": MESSAGES, "temperature": 0.5, "num_draft_tokens": 2}
    response = client.post(route, json=body, headers=bearer("alice"))
    assert response.status_code == 200 and response.json()["usage"] == USAGE_OPENAI
    assert runtime.seen[-1].body == {"messages": MESSAGES, "temperature": 0.5, "num_draft_tokens": 2}


def test_a_streamed_request_still_reports_usage_without_its_model(client: httpx.Client, runtime: FakeRuntime) -> None:
    body = {"model": "/Users/someone/models/other", "messages": MESSAGES, "stream": True}
    response = client.post("/v1/chat/completions", json=body, headers=bearer("alice"))
    assert response.status_code == 200 and "data: [DONE]" in response.text
    forwarded = runtime.seen[-1].body
    assert "model" not in forwarded and forwarded["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("field", ["adapters", "draft_model"])
def test_a_request_naming_an_adapter_or_draft_model_is_refused(
    client: httpx.Client, runtime: FakeRuntime, field: str,
) -> None:
    seen = len(runtime.raw_paths)
    response = client.post("/v1/chat/completions", json={"messages": MESSAGES, field: "../other"},
                           headers=bearer("alice"))
    _refused(response, 400, "request_field_refused")
    assert "../other" not in response.text and len(runtime.raw_paths) == seen


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'{"messages": [', b""])
def test_a_body_the_gateway_cannot_check_is_refused(client: httpx.Client, runtime: FakeRuntime, body: bytes) -> None:
    seen = len(runtime.raw_paths)
    response = client.post("/v1/completions", content=body,
                           headers={**bearer("alice"), "Content-Type": "application/json"})
    _refused(response, 400, "invalid_json_object")
    assert len(runtime.raw_paths) == seen


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/mlx-community/other"])
def test_the_model_listing_of_the_account_cache_is_refused(
    client: httpx.Client, runtime: FakeRuntime, path: str,
) -> None:
    seen = len(runtime.raw_paths)
    _refused(client.get(path, headers=bearer("alice")), 403, "route_forbidden")
    assert len(runtime.raw_paths) == seen
