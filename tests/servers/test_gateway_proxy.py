"""The real gateway process in front of fake OpenAI-style and Ollama-style runtimes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.gateway_fixtures import (
    KEYS,
    MESSAGES_INPUT_TOKENS,
    MESSAGES_OUTPUT_TOKENS,
    OLLAMA_EVAL_COUNT,
    OLLAMA_PROMPT_EVAL_COUNT,
    RESPONSES_USAGE,
    STREAM_WORDS,
    USAGE_OPENAI,
    FakeRuntime,
    GatewayProcess,
    bearer,
    eventually,
)
from tests.servers.raw_http import Reader, connect, request_bytes

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    # These tests send many requests without a key on purpose; the limit on those has its own test.
    settings = {"unauthenticated_rate_per_second": 1000.0, "unauthenticated_burst": 1000}
    process = GatewayProcess(tmp_path_factory.mktemp("gateway"), runtime.url, settings=settings)
    yield process
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        yield http


def _error(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


# -- authentication ----------------------------------------------------------------------------


def test_missing_key_gets_401_in_openai_shape(client: httpx.Client) -> None:
    response = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert _error(response)["code"] == "missing_api_key"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_key_and_wrong_scheme_get_401(client: httpx.Client) -> None:
    wrong = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-not-a-key-000000000"})
    basic = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Basic {KEYS['alice']}"})
    assert (wrong.status_code, _error(wrong)["code"]) == (401, "invalid_api_key")
    assert (basic.status_code, _error(basic)["code"]) == (401, "invalid_api_key")


def test_valid_key_passes_and_is_not_forwarded_upstream(client: httpx.Client, runtime: FakeRuntime) -> None:
    response = client.post("/v1/chat/completions", json=CHAT, headers=bearer("alice"))
    assert response.status_code == 200
    assert response.json()["usage"] == USAGE_OPENAI
    seen = runtime.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert "Authorization" not in seen.headers
    assert KEYS["alice"] not in json.dumps(seen.headers)


def test_revoked_key_gets_401_without_restart_and_new_key_works(gateway: GatewayProcess, client: httpx.Client) -> None:
    assert client.get("/v1/models", headers=bearer("carol")).status_code == 200
    dave = "sk-dave-rotated-key-00000000000000000000"
    rotated = {k: v for k, v in KEYS.items() if k != "carol"} | {"dave": dave}
    pid = gateway.process.pid
    try:
        gateway.write_keys(rotated)
        assert eventually(lambda: client.get("/v1/models", headers=bearer("carol")).status_code == 401)
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {dave}"}).status_code == 200
        assert gateway.process.pid == pid and gateway.process.poll() is None
        assert gateway.sample("slm_gateway_keys_loaded") == len(rotated)
    finally:
        gateway.write_keys(KEYS)
    assert eventually(lambda: client.get("/v1/models", headers=bearer("carol")).status_code == 200)


def test_in_place_edit_is_picked_up(gateway: GatewayProcess, client: httpx.Client) -> None:
    try:
        text = "".join(f"{k}:{v}\n" for k, v in KEYS.items() if k != "bob")
        gateway.key_file.write_text(text)
        assert eventually(lambda: client.get("/v1/models", headers=bearer("bob")).status_code == 401)
    finally:
        gateway.write_keys(KEYS)
    assert eventually(lambda: client.get("/v1/models", headers=bearer("bob")).status_code == 200)


def test_malformed_key_file_keeps_previous_keys_and_counts_error(gateway: GatewayProcess, client: httpx.Client) -> None:
    errors_before = gateway.sample("slm_gateway_key_file_reloads_total", result="error")
    try:
        gateway.key_file.write_text("alice-without-separator\n")
        assert eventually(
            lambda: client.get("/v1/models", headers=bearer("alice")).status_code == 200
            and gateway.sample("slm_gateway_key_file_reloads_total", result="error") == errors_before + 1
        )
    finally:
        gateway.write_keys(KEYS)
    assert "line 1" in gateway.logs()


def test_only_health_paths_skip_the_key(client: httpx.Client) -> None:
    assert client.get("/").json() == {"status": "ok"}  # the runtime's own health route, forwarded
    assert client.get("/healthz").json() == {"status": "ok"}  # the gateway's: nothing about keys
    assert client.post("/").status_code == 401
    assert client.get("/v1/models").status_code == 401
    assert client.get("/api/version").status_code == 401


def test_model_management_is_forbidden_and_other_routes_not_found(client: httpx.Client, runtime: FakeRuntime) -> None:
    headers = bearer("alice")
    seen = len(runtime.raw_paths)
    pull = client.post("/api/pull", json={"model": "x"}, headers=headers)
    assert (pull.status_code, _error(pull)["code"]) == (403, "route_forbidden")
    internal = client.get("/metrics", headers=headers)
    assert (internal.status_code, _error(internal)["code"]) == (404, "route_not_found")
    wrong_method = client.get("/v1/chat/completions", headers=headers)
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert len(runtime.raw_paths) == seen


# -- streaming -------------------------------------------------------------------------------


def _first_chunk_then_release(
    client: httpx.Client, runtime: FakeRuntime, path: str, body: dict[str, object], hold: str
) -> tuple[bytes, bytes]:
    """Receive the first chunk while the runtime is still blocked, then let it finish."""
    runtime.arm(hold)
    with client.stream("POST", path, json={**body, "hold": hold}, headers=bearer("alice")) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        first = next(chunks)
        # The runtime cannot have finished: it waits for this release, which only happens now.
        runtime.release(hold)
        rest = b"".join(chunks)
    return first, rest


def test_sse_chunks_reach_the_client_before_the_runtime_finishes(client: httpx.Client, runtime: FakeRuntime) -> None:
    first, rest = _first_chunk_then_release(client, runtime, "/v1/chat/completions", {**CHAT, "stream": True}, "sse")
    assert first.startswith(b"data: ") and STREAM_WORDS[0].encode() in first
    assert b"[DONE]" not in first
    assert rest.endswith(b"data: [DONE]\n\n")


def test_ndjson_chunks_reach_the_client_before_the_runtime_finishes(client: httpx.Client, runtime: FakeRuntime) -> None:
    first, rest = _first_chunk_then_release(client, runtime, "/api/chat", {**CHAT}, "ndjson")
    assert json.loads(first.splitlines()[0])["done"] is False
    assert json.loads(rest.splitlines()[-1])["done"] is True


# -- token and latency metrics -----------------------------------------------------------------


def _tokens(gateway: GatewayProcess, route: str, key_id: str) -> tuple[float, float]:
    return (
        gateway.sample("slm_gateway_input_tokens_total", route=route, key_id=key_id),
        gateway.sample("slm_gateway_output_tokens_total", route=route, key_id=key_id),
    )


def test_openai_usage_is_counted_stream_or_not(gateway: GatewayProcess, client: httpx.Client, runtime: FakeRuntime) -> None:
    route = "/v1/chat/completions"
    before = _tokens(gateway, route, "bob")
    assert client.post(route, json=CHAT, headers=bearer("bob")).status_code == 200
    asked = client.post(route, json={**CHAT, "stream": True, "stream_options": {"include_usage": True}}, headers=bearer("bob"))
    assert b'"usage"' in asked.content
    after = _tokens(gateway, route, "bob")
    assert after == (before[0] + 2 * USAGE_OPENAI["prompt_tokens"], before[1] + 2 * USAGE_OPENAI["completion_tokens"])


@pytest.fixture(scope="module")
def vllm_gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("vllm"), runtime.url, settings={"route_table": "vllm", "exempt_paths": ("/health",)})
    yield process
    process.stop()


@pytest.mark.parametrize(("table", "options"), [
    ("ollama", None), ("ollama", {}), ("vllm", None), ("vllm", {}),
    ("vllm", {"include_usage": False, "continuous_usage_stats": True}),
], ids=["ollama", "ollama-empty-options", "vllm", "vllm-empty-options", "vllm-continuous-without-usage"])
def test_stream_without_usage_request_is_counted_and_left_as_the_client_asked(
    request: pytest.FixtureRequest, runtime: FakeRuntime, options: dict[str, bool] | None, table: str
) -> None:
    """vLLM 0.26.0 sends usage only for include_usage (default false); continuous_usage_stats needs it as well."""
    gateway: GatewayProcess = request.getfixturevalue("gateway" if table == "ollama" else "vllm_gateway")
    client = httpx.Client(base_url=gateway.url, timeout=20)
    route = "/v1/chat/completions"
    before = _tokens(gateway, route, "carol")
    asked = {**CHAT, "stream": True} if options is None else {**CHAT, "stream": True, "stream_options": options}
    response = client.post(route, json=asked, headers=bearer("carol"))
    assert runtime.seen[-1].body["stream_options"]["include_usage"] is True
    events = [e for e in response.text.split("\n\n") if e]
    assert b'"usage"' not in response.content
    assert events[-1] == "data: [DONE]" and len(events) == len(STREAM_WORDS) + 1
    assert "".join(json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[:-1]) == "".join(STREAM_WORDS)
    assert _tokens(gateway, route, "carol") == (
        before[0] + USAGE_OPENAI["prompt_tokens"], before[1] + USAGE_OPENAI["completion_tokens"]
    )


def test_ollama_eval_counts_are_counted_stream_or_not(gateway: GatewayProcess, client: httpx.Client) -> None:
    before = _tokens(gateway, "/api/generate", "bob")
    assert client.post("/api/generate", json={"model": "tiny", "prompt": "hi"}, headers=bearer("bob")).status_code == 200
    single = client.post("/api/generate", json={"model": "tiny", "prompt": "hi", "stream": False}, headers=bearer("bob"))
    assert single.json()["eval_count"] == OLLAMA_EVAL_COUNT
    assert _tokens(gateway, "/api/generate", "bob") == (
        before[0] + 2 * OLLAMA_PROMPT_EVAL_COUNT, before[1] + 2 * OLLAMA_EVAL_COUNT
    )


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_responses_and_messages_usage_is_counted(gateway: GatewayProcess, client: httpx.Client, stream: bool) -> None:
    expected = {
        "/v1/responses": (RESPONSES_USAGE["input_tokens"], RESPONSES_USAGE["output_tokens"]),
        "/v1/messages": (MESSAGES_INPUT_TOKENS, MESSAGES_OUTPUT_TOKENS),
    }
    for route, (prompt, generated) in expected.items():
        before = _tokens(gateway, route, "alice")
        answer = client.post(route, json={**CHAT, "stream": stream, "max_tokens": 8}, headers=bearer("alice"))
        assert answer.status_code == 200 and answer.text.count('"usage": {') == (2 if route == "/v1/messages" and stream else 1)
        assert _tokens(gateway, route, "alice") == (before[0] + prompt, before[1] + generated), route


@pytest.mark.parametrize("body", [
    b'{"model":"tiny","messages":[],"Stream":true}',
    b'{"model":"tiny","messages":[],"strea\\u006d":true}',
    b'{"model":"tiny","messages":[],"stream":false,"STREAM":true,"stream_options":{"include_usage":false}}',
], ids=["capital", "escaped", "respelled-last"])
def test_a_stream_spelled_any_way_ollama_reads_asks_for_usage(
    client: httpx.Client, runtime: FakeRuntime, body: bytes
) -> None:
    sent = client.post("/v1/chat/completions", content=body, headers={**bearer("bob"), "Content-Type": "application/json"})
    assert sent.status_code == 200
    forwarded = runtime.seen[-1].body
    options = [v for k, v in forwarded.items() if k.lower() == "stream_options"]
    assert [v for k, v in forwarded.items() if k.lower() == "stream"][-1] is True
    assert options[-1]["include_usage"] is True


@pytest.mark.parametrize("body", [
    '{"model":"tiny","messages":[],"stream":true}'.encode("utf-16"),
    b'\xef\xbb\xbf{"model":"tiny","messages":[],"stream":true}',
    b'{"model":"tiny","messages":[],"stream":true',
], ids=["utf-16", "byte-order-mark", "truncated"])
def test_a_generation_body_ollama_cannot_read_as_utf8_json_is_refused(
    client: httpx.Client, runtime: FakeRuntime, body: bytes
) -> None:
    seen = len(runtime.seen)
    refused = client.post("/v1/chat/completions", content=body, headers=bearer("bob"))
    assert refused.status_code == 400 and _error(refused)["code"] == "invalid_json_object"
    assert len(runtime.seen) == seen


def test_time_to_first_token_is_not_the_clients_upload_time(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    """A client that stops halfway through its body: TTFT counts from the whole request, not from its head."""
    labels = {"route": "/v1/completions", "key_id": "carol"}
    sum_before = gateway.sample("slm_gateway_time_to_first_token_seconds_sum", **labels)
    body = json.dumps({"model": "tiny", "prompt": "hi", "stream": True}).encode()
    head = request_bytes("POST", "/v1/completions", {**bearer("carol"), "Content-Type": "application/json"}, body)
    with connect(gateway.port) as sock:
        sock.sendall(head[:-5])
        time.sleep(0.5)  # the gateway is reading the body meanwhile
        sent = time.perf_counter()
        sock.sendall(head[-5:])
        reader = Reader(sock)
        while b"\r\n\r\n" not in reader.buffer or not reader.buffer.split(b"\r\n\r\n", 1)[1]:
            assert reader._fill()
        client_wait = time.perf_counter() - sent
    ttft = eventually(lambda: gateway.sample("slm_gateway_time_to_first_token_seconds_sum", **labels) - sum_before)
    assert 0 < ttft <= client_wait


def test_usage_copies_of_concurrent_large_answers_stay_within_their_budget(
    runtime: FakeRuntime, tmp_path: Path
) -> None:
    budget, size, answers = 1 << 20, 600 * 1024, 4
    settings = {"max_usage_copy_bytes": budget}
    gateway = GatewayProcess(tmp_path, runtime.url, settings=settings)
    try:
        before = gateway.sample("slm_gateway_input_tokens_total", route="/api/embeddings", key_id="alice")
        runtime.arm("copies")
        relayed = [threading.Event() for _ in range(answers)]
        results: list[int] = []

        def call(index: int) -> None:
            received = b""
            with httpx.Client(base_url=gateway.url, timeout=30) as http, http.stream(
                "POST", "/api/embeddings", json={"size": size, "hold": "copies"}, headers=bearer("alice"),
            ) as answer:
                for chunk in answer.iter_raw():
                    received += chunk
                    if len(received) >= size:
                        relayed[index].set()  # all but the last member went through the gateway
            results.append(len(json.loads(received)["embedding"]))

        callers = [threading.Thread(target=call, args=(index,)) for index in range(answers)]
        for caller in callers:
            caller.start()
        assert all(done.wait(30) for done in relayed)
        reserved = gateway.sample("slm_gateway_usage_copy_bytes_reserved")
        runtime.release("copies")
        for caller in callers:
            caller.join(30)
        assert 0 < reserved <= budget
        assert len(results) == answers and len(set(results)) == 1  # every answer reached its client whole
        # Two whole copies do not fit the budget, so at least three answers went on without one.
        missed = gateway.sample("slm_gateway_usage_unread_total", reason="copy_budget", key_id="alice")
        assert missed >= answers - 1
        counted = gateway.sample("slm_gateway_input_tokens_total", route="/api/embeddings", key_id="alice") - before
        assert counted == (answers - missed) * OLLAMA_PROMPT_EVAL_COUNT
        assert gateway.sample("slm_gateway_usage_copy_bytes_reserved") == 0
    finally:
        gateway.stop()


def test_time_to_first_token_is_measured(gateway: GatewayProcess, client: httpx.Client, runtime: FakeRuntime) -> None:
    """The runtime holds its first chunk until released; TTFT must lie between the hold and what the client saw."""
    hold_seconds = 0.3
    arrived = runtime.arm("ttft")
    count_before = gateway.sample("slm_gateway_time_to_first_token_seconds_count", route="/v1/completions", key_id="bob")
    sum_before = gateway.sample("slm_gateway_time_to_first_token_seconds_sum", route="/v1/completions", key_id="bob")
    body = {"model": "tiny", "prompt": "hi", "stream": True, "hold": "ttft", "hold_before_first": True}
    result: dict[str, float] = {}

    def call() -> None:
        started = time.perf_counter()
        with client.stream("POST", "/v1/completions", json=body, headers=bearer("bob")) as response:
            chunks = response.iter_raw()
            next(chunks)
            result["client_ttft"] = time.perf_counter() - started
            b"".join(chunks)

    caller = threading.Thread(target=call)
    caller.start()
    assert arrived.wait(10)
    time.sleep(hold_seconds)
    runtime.release("ttft")
    caller.join(20)
    assert gateway.sample("slm_gateway_time_to_first_token_seconds_count", route="/v1/completions", key_id="bob") == count_before + 1
    ttft = gateway.sample("slm_gateway_time_to_first_token_seconds_sum", route="/v1/completions", key_id="bob") - sum_before
    assert hold_seconds <= ttft <= result["client_ttft"]


def test_requests_are_counted_by_route_status_and_key_id(gateway: GatewayProcess, client: httpx.Client) -> None:
    labels = {"route": "/v1/models", "key_id": "alice"}
    ok_before = gateway.sample("slm_gateway_requests_total", status="200", **labels)
    denied_before = gateway.sample("slm_gateway_requests_total", route="/v1/models", status="401", key_id="none")
    client.get("/v1/models", headers=bearer("alice"))
    client.get("/v1/models")
    assert gateway.sample("slm_gateway_requests_total", status="200", **labels) == ok_before + 1
    assert gateway.sample("slm_gateway_requests_total", route="/v1/models", status="401", key_id="none") == denied_before + 1
    assert gateway.sample("slm_gateway_request_duration_seconds_count", **labels) >= 1


def test_unreachable_runtime_gives_502(tmp_path: Path) -> None:
    from tests.servers.gateway_fixtures import free_port

    process = GatewayProcess(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        response = httpx.get(f"{process.url}/v1/models", headers=bearer("alice"), timeout=20)
        assert (response.status_code, _error(response)["code"]) == (502, "upstream_unavailable")
    finally:
        process.stop()


def test_keys_never_appear_in_logs_or_metrics(gateway: GatewayProcess, client: httpx.Client) -> None:
    """Runs last in this module: by now every other test has exercised the gateway."""
    wrong = "sk-wrong-but-logged-0000000000"
    client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {wrong}"})
    client.get(f"/v1/models?api_key={KEYS['alice']}", headers=bearer("alice"))
    texts = {"logs": gateway.logs(), "metrics": gateway.metrics_text()}
    assert '"key_id":"alice"' in texts["logs"]
    for where, text in texts.items():
        for secret in (*KEYS.values(), wrong, "sk-dave-rotated-key-00000000000000000000"):
            assert secret not in text, f"a key leaked into the gateway {where}"
