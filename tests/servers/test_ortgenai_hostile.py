"""The server under hostile and careless clients, spoken to with raw bytes on sockets to a real uvicorn process.

Every refusal must be a 4xx in the OpenAI error shape naming the parameter by its public name; a connection
the server closes says `Connection: close`; oversize bodies are refused before they are read; a client that
leaves stops the work done for it.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the ortgenai server runs on uvicorn")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from tests.servers.ortgenai_helpers import SERVED_NAME, wait_until  # noqa: E402
from tests.servers.ortgenai_process import (  # noqa: E402
    RawConnection,
    ServerProcess,
    chat_request,
    exchange,
    request_bytes,
    served,
)

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_SECONDS = 2
PUBLIC_PARAM = re.compile(r"[a-z_]+(\[\d+\]|\.[a-z_]+)*")
LONG_REPLY_TOKENS = 480


@pytest.fixture(scope="module")
def server(tiny_onnx_model: Path, tmp_path_factory) -> ServerProcess:
    with served(tiny_onnx_model, tmp_path_factory.mktemp("hostile"), SLM_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
                SLM_BODY_TIMEOUT=str(BODY_TIMEOUT_SECONDS), SLM_MAX_CONCURRENCY="1", SLM_MAX_QUEUE="8") as process:
        yield process


def chat(**extra) -> dict:
    return {"model": SERVED_NAME, "messages": [{"role": "user", "content": "Hello there"}],
            "max_tokens": 4, "temperature": 0, **extra}


def assert_refused(response, status: int, param: str | None) -> dict:
    """A refusal in the OpenAI error shape, naming `param` by its public name."""
    assert response.status == status, response.body
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"] and error["code"]
    assert error["param"] == param
    if param is not None:
        assert PUBLIC_PARAM.fullmatch(param)
    return error


def assert_usable_after(connection: RawConnection) -> None:
    """The same connection still answers a normal request: the refusal did not break keep-alive."""
    connection.send(chat_request(chat()))
    assert connection.response().status == 200


@pytest.mark.parametrize("seed", [2**32, 2**40, 2**63 - 1, -(2**63), -1, 0])
def test_any_64_bit_seed_is_honoured_and_reproducible(server, seed):
    body = chat(seed=seed, temperature=1.0, max_tokens=12)
    with RawConnection(server.port) as connection:
        replies = []
        for _ in range(2):
            connection.send(chat_request(body))
            response = connection.response()
            assert response.status == 200, response.body
            assert not response.closes
            replies.append(response.json()["choices"][0]["message"]["content"])
        assert replies[0] == replies[1]


@pytest.mark.parametrize("seed", ["2" + "0" * 19, "-" + "9" * 19, "1.5", '"7"', "true"])
def test_seed_outside_64_bits_or_not_an_integer_is_400_and_keeps_the_connection(server, seed):
    raw = json.dumps(chat()).replace('"max_tokens"', f'"seed": {seed}, "max_tokens"').encode()
    with RawConnection(server.port) as connection:
        connection.send(chat_request(raw))
        assert_refused(connection.response(), 400, "seed")
        assert_usable_after(connection)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ('{"model": "tiny", "messages": [{"role": "user", "content": "\\ud800"}]}', "messages[0].content"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": "a\\udfffb"}]}', "messages[0].content"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": "before\\u0000after"}]}', "messages[0].content"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]}',
         "messages[0].content[0].text"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": "hi", "name": "\\ud800"}]}',
         "messages[0].name"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ["\\udc00"]}', "stop[0]"),
        ('{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "\\ud800": 1}', None),
    ],
)
def test_strings_native_code_cannot_take_are_400_naming_where(server, body, param):
    with RawConnection(server.port) as connection:
        connection.send(chat_request(body.encode()))
        assert_refused(connection.response(), 400, param)
        assert_usable_after(connection)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "tiny", "messages": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"model": "tiny", "metadata": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}",
        b"[" * 50_000,
        b'{"model": "tiny", "messages": [], "max_tokens": ' + b"9" * 5000 + b"}",
        b'{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        b'{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "top_p": Infinity}',
        b'{"model": "tiny"',
        b"\xff\xfe{}",
        b"",
        b"null",
    ],
    ids=["nested-2000", "nested-100-in-metadata", "open-brackets", "5000-digit-number", "nan", "infinity",
         "truncated", "not-utf8", "empty", "null"],
)
def test_malformed_json_is_400_not_500(server, raw):
    with RawConnection(server.port) as connection:
        connection.send(chat_request(raw))
        response = connection.response()
        assert response.status == 400, response.body
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert_usable_after(connection)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": {"name": "f"}}, "function_call"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 5}, "top_logprobs"),
        ({"logit_bias": {"50": 10}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": -1}, "frequency_penalty"),
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"frequency_penalty": -7}, "frequency_penalty"),
        ({"n": 2}, "n"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"store": True}, "store"),
        ({"reasoning_effort": "low"}, "reasoning_effort"),
        ({"verbosity": "high"}, "verbosity"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"moderation": {"model": "omni-moderation-latest"}}, "moderation"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 7}}}},
         "response_format.json_schema.schema"),
        ({"top_k": 40}, "top_k"),
        ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]}]},
         "messages[0].tool_calls"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[0].content[0]"),
        ({"stop": [""]}, "stop[0]"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": "0.5"}, "temperature"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": ["Hello"]}, "messages[0]"),
    ],
)
def test_what_cannot_be_honoured_is_400_naming_the_parameter(server, extra, param):
    with RawConnection(server.port) as connection:
        connection.send(chat_request(chat(**extra)))
        error = assert_refused(connection.response(), 400, param)
        assert error["message"].startswith(param)
        assert "ChatMessage" not in error["message"] and "ContentPart" not in error["message"]
        assert_usable_after(connection)


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [], "tool_choice": "none", "parallel_tool_calls": True},
        {"tool_choice": "auto", "function_call": "none"},
        {"logprobs": False, "top_logprobs": 0, "logit_bias": {}, "presence_penalty": 0, "frequency_penalty": 0.0},
        {"logit_bias": {"17": 0}, "n": 1, "modalities": ["text"], "store": False, "service_tier": "auto"},
        {"metadata": {"team": "search"}, "user": "u-1", "safety_identifier": "s", "prompt_cache_key": "k"},
        {"prediction": {"type": "content", "content": "Hello"}, "response_format": {"type": "text"}},
        {"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "ann"},
                      {"role": "assistant", "content": None, "refusal": "No."},
                      {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}],
                       "annotations": [], "tool_calls": []},
                      {"role": "tool", "content": "42", "tool_call_id": "call-1"},
                      {"role": "user", "content": [{"type": "text", "text": "Again?"}]}]},
    ],
)
def test_values_that_ask_for_nothing_unsupported_are_accepted(server, extra):
    response = exchange(server.port, chat_request(chat(**extra)))
    assert response.status == 200, response.body


def test_null_is_accepted_wherever_the_openai_reference_allows_it(server):
    nulls = dict.fromkeys((
        "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n", "stop", "stream",
        "stream_options", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
        "audio", "modalities", "prediction", "reasoning_effort", "verbosity", "service_tier", "store",
        "metadata", "moderation", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
    ))
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "Hello there"},
                                               {"role": "assistant", "content": None, "refusal": None, "audio": None,
                                                "function_call": None, "tool_calls": None},
                                               {"role": "user", "content": "Again"}], **nulls}
    response = exchange(server.port, chat_request(body))
    assert response.status == 200, response.body
    assert response.json()["object"] == "chat.completion"


def test_streaming_null_stream_options_and_include_usage(server):
    response = exchange(server.port, chat_request(chat(stream=True, stream_options={"include_usage": None})))
    assert response.status == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert b'"usage"' not in response.body and response.body.endswith(b"data: [DONE]\n\n")


def test_json_schema_response_format_constrains_the_reply(server):
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
              "additionalProperties": False}
    for seed in (1, 2, 3):
        response = exchange(server.port, chat_request(chat(
            response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
            temperature=1.0, seed=seed, max_tokens=200)))
        assert response.status == 200, response.body
        [choice] = response.json()["choices"]
        assert choice["finish_reason"] == "stop"
        reply = json.loads(choice["message"]["content"])
        assert set(reply) == {"answer"} and isinstance(reply["answer"], int)


def test_json_object_response_format_gives_an_object_whenever_the_reply_ends(server):
    finished = 0
    for seed in range(1, 7):
        response = exchange(server.port, chat_request(chat(
            response_format={"type": "json_object"}, temperature=1.0, seed=seed, max_tokens=100)))
        assert response.status == 200, response.body
        [choice] = response.json()["choices"]
        assert choice["message"]["content"].startswith("{")
        if choice["finish_reason"] == "stop":
            finished += 1
            assert isinstance(json.loads(choice["message"]["content"]), dict)
    assert finished >= 1, "no constrained reply ended within its token budget"


def test_declared_oversize_body_is_refused_before_it_is_sent_and_the_connection_closed(server):
    with RawConnection(server.port) as connection:
        connection.send(request_bytes("POST", "/v1/chat/completions", headers={
            "Content-Type": "application/json", "Content-Length": str(10 * 1024 * 1024)}))
        response = connection.response()
        assert_refused(response, 413, None)
        assert response.closes
        assert connection.closed_by_server()


def test_chunked_body_is_cut_off_at_the_limit_and_memory_stays_flat(server):
    chunk = b"x" * 65536
    before = server.rss_bytes()
    with RawConnection(server.port) as connection:
        connection.send(request_bytes("POST", "/v1/chat/completions", headers={
            "Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        sent = 0
        try:
            for _ in range(512):  # up to 32 MiB, far beyond the limit
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection once the limit was passed: that is the behaviour under test
        response = connection.response()
    assert_refused(response, 413, None)
    assert response.closes
    assert sent < 32 * 1024 * 1024, "the server kept reading a body far past its limit"
    assert server.rss_bytes() - before < 16 * 1024 * 1024


def test_a_body_that_stalls_is_408_and_the_connection_closed(server):
    body = json.dumps(chat()).encode()
    with RawConnection(server.port) as connection:
        connection.send(chat_request(body)[: -len(body) // 2])
        response = connection.response()
        assert_refused(response, 408, None)
        assert response.closes
        assert connection.closed_by_server()


def test_non_streamed_requests_stop_and_leave_the_queue_when_their_clients_leave(server):
    before_tokens = server.metric("ortgenai_generation_tokens_total")
    before_left = server.metric("ortgenai_errors_total", kind="client_disconnected")
    body = chat(max_tokens=LONG_REPLY_TOKENS, temperature=1.0, seed=5)
    sockets = []
    for _ in range(5):
        connection = socket.create_connection(("127.0.0.1", server.port))
        connection.sendall(chat_request(body))
        sockets.append(connection)
    wait_until(lambda: server.metric("ortgenai_requests_waiting") >= 1, "requests to queue behind the running one")
    for connection in sockets:
        connection.close()
    wait_until(lambda: server.metric("ortgenai_errors_total", kind="client_disconnected") - before_left >= 5,
               "every departed client to be noticed")
    assert server.metric("ortgenai_generations_running") == 0
    assert server.metric("ortgenai_requests_waiting") == 0
    generated = server.metric("ortgenai_generation_tokens_total") - before_tokens
    assert generated < 2 * LONG_REPLY_TOKENS, "generation went on for clients that had left"
    assert exchange(server.port, chat_request(chat())).status == 200
    left = server.metric("ortgenai_errors_total", kind="client_disconnected") - before_left
    assert left == 5, "each departed client is counted exactly once"


def test_a_client_leaving_during_the_body_costs_nothing(server):
    before = server.metric("ortgenai_errors_total", kind="client_disconnected")
    with RawConnection(server.port) as connection:
        connection.send(request_bytes("POST", "/v1/chat/completions", headers={
            "Content-Type": "application/json", "Content-Length": "1000"}) + b'{"model": ')
        time.sleep(0.2)
    wait_until(lambda: server.metric("ortgenai_errors_total", kind="client_disconnected") - before == 1,
               "the departed client to be noticed")
    assert server.metric("ortgenai_requests_in_flight") == 1  # the scrape itself
