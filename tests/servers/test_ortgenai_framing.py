"""Requests broken at the HTTP or JSON level, sent as raw bytes: each gets one OpenAI-shaped 4xx, never plain text.

Framing errors (Content-Length, chunked encoding, header syntax) are refused by the HTTP parser before the
application sees them, so they close the connection; content type, encoding and number errors keep it open.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the ortgenai server runs on uvicorn")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from tests.servers.ortgenai_helpers import SERVED_NAME  # noqa: E402
from tests.servers.ortgenai_process import RawConnection, ServerProcess, chat_request, exchange, request_bytes, served  # noqa: E402

BODY = json.dumps({"model": SERVED_NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}).encode()
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def server(tiny_onnx_model: Path, tmp_path_factory) -> ServerProcess:
    with served(tiny_onnx_model, tmp_path_factory.mktemp("framing")) as process:
        yield process


def assert_openai_error(response, status: int, param: str | None = None) -> dict:
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["param"] == param
    return error


@pytest.mark.parametrize(
    "raw",
    [
        HEAD + b"Content-Length: abc\r\n\r\n" + BODY,
        HEAD + b"Content-Length: -1\r\n\r\n" + BODY,
        HEAD + b"Content-Length: " + b"9" * 30 + b"\r\n\r\n" + BODY,
        HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + BODY,
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\nabc\r\n0\r\n\r\n",
        HEAD + b"Bad Header: x\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["length-not-a-number", "length-negative", "length-30-digits", "two-lengths", "chunk-size-not-hex",
         "chunk-size-40-digits", "space-in-header-name", "no-request-line"],
)
def test_framing_errors_get_an_openai_error_and_close_the_connection(server, raw):
    with RawConnection(server.port) as connection:
        connection.send(raw)
        response = connection.response()
        assert_openai_error(response, 400)
        assert response.closes and b"Bad Header" not in response.body


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (BODY.decode().encode("utf-16"), "application/json", 400),
        (BODY.decode().encode("utf-16-le"), "application/json", 400),
        (b"\xef\xbb\xbf" + BODY, "application/json", 400),
        (BODY, "text/plain", 415),
        (BODY, "application/x-www-form-urlencoded", 415),
        (BODY, "application/json; charset=utf-16", 415),
        (b"{nope", "application/json", 400),
    ],
    ids=["utf-16-bom", "utf-16-le", "utf-8-bom", "text-plain", "form", "charset-utf-16", "bad-json"],
)
def test_bodies_that_are_not_utf8_json_are_refused_and_keep_the_connection(server, body, content_type, status):
    with RawConnection(server.port) as connection:
        connection.send(chat_request(body, headers={"Content-Type": content_type}))
        assert_openai_error(connection.response(), status)
        connection.send(chat_request(BODY))
        assert connection.response().status == 200


@pytest.mark.parametrize(
    ("fragment", "param"),
    [
        (b'"max_tokens": ' + b"9" * 5000, "max_tokens"),
        (b'"max_completion_tokens": -' + b"1" * 5000, "max_completion_tokens"),
        (b'"seed": ' + b"7" * 4301, "seed"),
        (b'"top_logprobs": ' + b"1" * 25, "top_logprobs"),
        (b'"temperature": 1e999', "temperature"),
        (b'"metadata": {"k": ' + b"9" * 5000 + b"}", "metadata"),
    ],
)
def test_numbers_beyond_any_range_are_400_naming_their_parameter(server, fragment, param):
    raw = BODY[:-1] + b", " + fragment + b"}"
    error = assert_openai_error(exchange(server.port, chat_request(raw)), 400, param)
    assert error["message"].startswith(param) and "digits" not in error["message"]


def test_health_names_no_model_and_only_the_models_list_does(server):
    health = exchange(server.port, request_bytes("GET", "/health"))
    assert health.status == 200 and health.json() == {"status": "ok"}
    models = exchange(server.port, request_bytes("GET", "/v1/models")).json()
    assert [card["id"] for card in models["data"]] == [SERVED_NAME]
