"""Bounds a request and a runtime's answer keep over raw sockets: the body budget a streaming request holds once its
body is read, and a runtime trailer that never ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gateway_fixtures import FakeRuntime, GatewayProcess, RawRuntime, auth, eventually
from tests.servers.raw_http import Reader, connect, request_bytes
from tests.servers.test_gateway_server_bounds import CHAT, TIMEOUTS


@pytest.fixture(scope="module")
def gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("budget"), runtime.url, settings=TIMEOUTS)
    yield process
    process.stop()


def test_streams_with_small_chunked_bodies_hold_only_their_bodies_of_the_body_budget(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    runtime.arm("small-chunked")
    body = json.dumps({**CHAT, "stream": True, "hold": "small-chunked"}).encode()
    chunked = request_bytes("POST", "/v1/chat/completions", {**auth(), "Transfer-Encoding": "chunked"},
                            b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    seen = len(runtime.raw_paths)
    streams = [connect(gateway.port) for _ in range(2)]  # the default budget holds two whole-limit bodies
    try:
        for sock in streams:
            sock.sendall(chunked)
        assert eventually(lambda: len(runtime.raw_paths) == seen + 2)
        other = request_bytes("POST", "/v1/chat/completions", auth("bob"), json.dumps(CHAT).encode())
        with connect(gateway.port) as sock:
            sock.sendall(other)
            answer = Reader(sock).response()
    finally:
        runtime.release("small-chunked")
        for sock in streams:
            sock.close()
    assert answer.status == 200, answer.raw


@pytest.mark.parametrize("framing", ["chunked", "sized"])
def test_an_upload_that_stalls_holds_only_what_it_sent_of_the_body_budget(tmp_path: Path, runtime: FakeRuntime,
                                                                          framing: str) -> None:
    limit = 4096
    gateway = GatewayProcess(tmp_path, runtime.url, settings={
        **TIMEOUTS, "body_timeout_seconds": 60.0, "max_request_body_bytes": limit, "max_in_flight_body_bytes": 2 * limit - 2})
    reserved = "slm_gateway_request_body_bytes_reserved"
    chunked = framing == "chunked"
    framed = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(limit)}
    head = request_bytes("POST", "/v1/chat/completions", {**auth(), **framed}, b"")

    def part(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    uploads = [connect(gateway.port, timeout=30) for _ in range(3)]
    try:
        for sock in uploads:
            sock.sendall(head + part(b"{"))  # one byte of the body, then nothing
        assert eventually(lambda: gateway.sample(reserved) == 3), gateway.sample(reserved)
        other = request_bytes("POST", "/v1/chat/completions", auth("bob"), json.dumps(CHAT).encode())
        with connect(gateway.port) as sock:
            sock.sendall(other)
            answer = Reader(sock).response()
        assert answer.status == 200, answer.raw
        # Bodies that grow past what is left of the budget are refused as they arrive.
        uploads[0].sendall(part(b" " * (limit - 2)))  # one byte short of its end
        assert eventually(lambda: gateway.sample(reserved) == limit + 1), gateway.sample(reserved)
        uploads[1].sendall(part(b" " * (limit - 1)))
        refused = Reader(uploads[1]).response()
        assert (refused.status, json.loads(refused.body)["error"]["code"]) == (503, "body_budget_exceeded")
        assert eventually(lambda: gateway.sample(reserved) == limit), gateway.sample(reserved)
    finally:
        for sock in uploads:
            sock.close()
        gateway.stop()


def test_a_runtime_trailer_field_that_never_ends_fails_the_answer_at_the_head_limit(tmp_path: Path) -> None:
    runtime = RawRuntime(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"2\r\n{}\r\n0\r\nX-Trailer: ", endless=b"a" * 65536)
    gateway = GatewayProcess(tmp_path, runtime.url, settings={**TIMEOUTS, "upstream_read_timeout_seconds": 60.0})
    try:
        with connect(gateway.port, timeout=30) as sock:
            sock.sendall(request_bytes("GET", "/v1/models", auth()))
            reader = Reader(sock)
            head = reader.response(head_only=True)
            assert reader.closed_by_peer(within=20)  # the answer is cut short: the client cannot take it as whole
        errors = gateway.sample("slm_gateway_upstream_errors_total", reason="stream_broken")
    finally:
        gateway.stop()
        runtime.close()
    assert head.status == 200
    assert errors == 1
