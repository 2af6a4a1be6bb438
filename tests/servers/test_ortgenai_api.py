"""The server's HTTP API against a real tiny model: readiness, completions, streaming, models, errors, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the ortgenai server needs starlette")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from starlette.testclient import TestClient  # noqa: E402

from slm_deploy.servers.ortgenai.app import create_app  # noqa: E402
from slm_deploy.servers.ortgenai.config import Settings  # noqa: E402
from tests.servers.ortgenai_helpers import (  # noqa: E402
    SERVED_NAME,
    greedy_reference,
    metric,
    sse_payloads,
    wait_until,
)

HELLO = [{"role": "user", "content": "Hello, how are you today?"}]


def chat_body(max_tokens: int = 24, **extra) -> dict:
    return {"model": SERVED_NAME, "messages": HELLO, "max_tokens": max_tokens, "temperature": 0, **extra}


@pytest.fixture
def client(tiny_onnx_model: Path):
    """A client of a server whose model has finished loading."""
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME))
    with TestClient(app) as test_client:
        wait_until(lambda: test_client.get("/health").status_code == 200, "the model to load")
        yield test_client


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_health_is_503_until_the_model_is_loaded_then_200(tiny_onnx_model):
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME), autoload=False)
    with TestClient(app) as client:
        loading = client.get("/health")
        assert loading.status_code == 503
        assert loading.json() == {"status": "loading", "model": SERVED_NAME}
        refused = client.post("/v1/chat/completions", json=chat_body())
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "model_not_ready"
        assert refused.headers["retry-after"] == "5"
        assert metric(scrape(client), "ortgenai_model_loaded") == 0

        app.state.server.loader.start()
        wait_until(lambda: client.get("/health").status_code == 200, "the model to load")
        assert client.get("/health").json() == {"status": "ok", "model": SERVED_NAME}
        text = scrape(client)
        assert metric(text, "ortgenai_model_loaded") == 1
        assert metric(text, "ortgenai_model_load_duration_seconds") > 0


def test_health_reports_a_failed_load_and_calls_back(tmp_path):
    (tmp_path / "genai_config.json").write_text('{"model": {"context_length": 64, "type": "llama"}}')
    failures: list[str] = []
    app = create_app(Settings(model_dir=tmp_path), on_load_failure=failures.append)
    with TestClient(app) as client:
        wait_until(lambda: client.get("/health").json()["status"] == "failed", "the load to fail")
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["error"]
        wait_until(lambda: bool(failures), "the failure callback")
        assert client.post("/v1/chat/completions",
                           json={**chat_body(), "model": tmp_path.name}).json()["error"]["code"] == "model_not_ready"


def test_non_streamed_completion_matches_onnxruntime_genai_greedy_decoding(client, tiny_onnx_model):
    reference = greedy_reference(tiny_onnx_model, HELLO, max_tokens=24)
    response = client.post("/v1/chat/completions", json=chat_body(max_tokens=24))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == SERVED_NAME
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": reference.text, "refusal": None}
    assert choice["finish_reason"] == ("stop" if reference.hit_eos else "length")
    assert body["usage"] == {
        "prompt_tokens": reference.prompt_tokens,
        "completion_tokens": reference.completion_tokens,
        "total_tokens": reference.prompt_tokens + reference.completion_tokens,
    }
    assert reference.completion_tokens == 24 or reference.hit_eos


def test_max_tokens_bounds_the_reply_and_is_reported_as_length(client):
    for max_tokens in (1, 5, 17):
        body = client.post("/v1/chat/completions", json=chat_body(max_tokens=max_tokens)).json()
        if body["choices"][0]["finish_reason"] == "length":
            assert body["usage"]["completion_tokens"] == max_tokens
        else:
            assert body["usage"]["completion_tokens"] <= max_tokens


def test_streamed_chunks_concatenate_to_the_non_streamed_reply(client):
    plain = client.post("/v1/chat/completions", json=chat_body(max_tokens=32)).json()
    streamed = client.post("/v1/chat/completions",
                           json=chat_body(max_tokens=32, stream=True, stream_options={"include_usage": True}))
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(streamed.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content_chunks = [chunk for chunk in chunks if chunk["choices"] and "content" in chunk["choices"][0]["delta"]][1:]
    assert len(content_chunks) >= 3
    assert all(chunk["choices"][0]["delta"]["content"] for chunk in content_chunks)
    streamed_text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in content_chunks)
    assert streamed_text == plain["choices"][0]["message"]["content"]
    finish = chunks[-2]
    assert finish["choices"][0]["delta"] == {}
    assert finish["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"] == plain["usage"]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_field(client):
    payloads = sse_payloads(client.post("/v1/chat/completions", json=chat_body(max_tokens=8, stream=True)).text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_stop_sequence_cuts_the_reply_where_it_starts(client):
    full = client.post("/v1/chat/completions", json=chat_body(max_tokens=40)).json()
    text = full["choices"][0]["message"]["content"]
    assert len(text) >= 6, f"the tiny model's reply is too short to pick a stop sequence from: {text!r}"
    stop = text[len(text) // 2: len(text) // 2 + 2]
    expected = text[: text.index(stop)]
    for stream in (False, True):
        response = client.post("/v1/chat/completions", json=chat_body(max_tokens=40, stop=[stop], stream=stream))
        if stream:
            chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
            content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
            finish_reason = chunks[-1]["choices"][0]["finish_reason"]
        else:
            content = response.json()["choices"][0]["message"]["content"]
            finish_reason = response.json()["choices"][0]["finish_reason"]
            assert response.json()["usage"]["completion_tokens"] < full["usage"]["completion_tokens"]
        assert content == expected
        assert finish_reason == "stop"


def test_sampling_is_reproducible_with_a_seed_and_varies_without_one(client):
    body = chat_body(max_tokens=24, temperature=1.0, top_p=0.95, seed=7)
    first = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    again = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert first == again
    other_seeds = {
        client.post("/v1/chat/completions", json={**body, "seed": seed}).json()["choices"][0]["message"]["content"]
        for seed in (8, 9, 10)
    }
    assert other_seeds != {first}


def test_models_endpoint_lists_the_served_name(client):
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [model["id"] for model in listing["data"]] == [SERVED_NAME]
    assert client.get(f"/v1/models/{SERVED_NAME}").json()["id"] == SERVED_NAME
    missing = client.get("/v1/models/gpt-4o")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_unknown_model_is_404_in_openai_error_shape(client):
    response = client.post("/v1/chat/completions", json={**chat_body(), "model": "gpt-4o"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("model_not_found", "model", "invalid_request_error")
    assert "gpt-4o" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": SERVED_NAME}, "messages"),
        ({"model": SERVED_NAME, "messages": []}, "messages"),
        ({"model": SERVED_NAME, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": SERVED_NAME, "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": SERVED_NAME, "messages": HELLO, "max_tokens": "many"}, "max_tokens"),
        ({"model": SERVED_NAME, "messages": HELLO, "temperature": 3}, "temperature"),
        ({"model": SERVED_NAME, "messages": HELLO, "top_p": 1.5}, "top_p"),
        ({"model": SERVED_NAME, "messages": HELLO, "n": 2}, "n"),
        ({"model": SERVED_NAME, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": SERVED_NAME, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content[0]"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(client, body, param):
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"].startswith(param)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_bodies_that_are_not_a_json_object_are_400(client, raw):
    response = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")


def test_prompt_longer_than_the_context_is_400(client):
    long_text = "The quick brown fox jumps over the lazy dog. " * 200
    response = client.post("/v1/chat/completions",
                           json={**chat_body(), "messages": [{"role": "user", "content": long_text}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert metric(scrape(client), "ortgenai_generations_running") == 0


def test_text_content_parts_are_joined(client):
    parts = [{"type": "text", "text": "Hello, how are "}, {"type": "text", "text": "you today?"}]
    as_parts = client.post("/v1/chat/completions",
                           json={**chat_body(max_tokens=12), "messages": [{"role": "user", "content": parts}]})
    as_string = client.post("/v1/chat/completions", json=chat_body(max_tokens=12))
    assert as_parts.json()["choices"][0]["message"] == as_string.json()["choices"][0]["message"]
    assert as_parts.json()["usage"] == as_string.json()["usage"]


def test_unknown_paths_and_methods_answer_in_the_error_shape(client):
    assert client.get("/v2/everything").json()["error"]["code"] == "not_found"
    wrong_method = client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_metrics_count_requests_tokens_latency_and_errors(client):
    before = scrape(client)
    plain = client.post("/v1/chat/completions", json=chat_body(max_tokens=10)).json()
    streamed = client.post("/v1/chat/completions",
                           json=chat_body(max_tokens=7, stream=True, stream_options={"include_usage": True}))
    stream_usage = json.loads(sse_payloads(streamed.text)[-2])["usage"]
    client.post("/v1/chat/completions", json={**chat_body(), "model": "nope"})
    client.post("/v1/chat/completions", json={"model": SERVED_NAME, "messages": []})
    client.post("/v1/chat/completions", json={"model": SERVED_NAME, "messages": []})
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    route = "/v1/chat/completions"
    assert delta("ortgenai_requests_total", route=route, status="200") == 2
    assert delta("ortgenai_requests_total", route=route, status="404") == 1
    assert delta("ortgenai_requests_total", route=route, status="400") == 2
    assert delta("ortgenai_requests_total", route="/metrics", status="200") == 1  # the first scrape
    assert delta("ortgenai_prompt_tokens_total") == plain["usage"]["prompt_tokens"] + stream_usage["prompt_tokens"]
    assert delta("ortgenai_generation_tokens_total") == (
        plain["usage"]["completion_tokens"] + stream_usage["completion_tokens"]
    )
    assert delta("ortgenai_time_to_first_token_seconds_count") == 2
    assert delta("ortgenai_time_per_output_token_seconds_count") == (
        plain["usage"]["completion_tokens"] - 1 + stream_usage["completion_tokens"] - 1
    )
    assert delta("ortgenai_request_duration_seconds_count", route=route) == 5
    assert delta("ortgenai_errors_total", kind="model_not_found") == 1
    assert delta("ortgenai_errors_total", kind="invalid_request") == 2
    assert metric(after, "ortgenai_requests_in_flight") == 1  # the scrape itself
    assert metric(after, "ortgenai_generations_running") == 0
    assert metric(after, "ortgenai_requests_waiting") == 0
    assert metric(after, "ortgenai_max_concurrency") == 2


def test_an_unexpected_failure_is_500_with_connection_close_and_frees_the_slot(tiny_onnx_model, monkeypatch):
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME, max_concurrency=1,
                              max_queue=0))

    def broken_start(messages, sampling):
        raise RuntimeError("native failure")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        wait_until(lambda: test_client.get("/health").status_code == 200, "the model to load")
        monkeypatch.setattr(app.state.server.engine, "start", broken_start)
        response = test_client.post("/v1/chat/completions", json=chat_body())
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert response.json()["error"] == {"message": "internal server error", "type": "server_error",
                                            "param": None, "code": "internal"}
        monkeypatch.undo()
        assert test_client.post("/v1/chat/completions", json=chat_body()).status_code == 200


def test_a_conversation_the_chat_template_refuses_is_400(tiny_onnx_model, tmp_path):
    template = tmp_path / "strict.jinja"
    template.write_text(
        "{% for message in messages %}{% if message['role'] == 'tool' %}"
        "{{ raise_exception('tool turns are not supported') }}{% endif %}"
        "{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}assistant: "
    )
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME,
                              chat_template_file=template))
    with TestClient(app) as test_client:
        wait_until(lambda: test_client.get("/health").status_code == 200, "the model to load")
        refused = test_client.post("/v1/chat/completions", json={
            **chat_body(), "messages": [{"role": "tool", "content": "42", "tool_call_id": "c1"}]})
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "messages"
        assert test_client.post("/v1/chat/completions", json=chat_body()).status_code == 200
