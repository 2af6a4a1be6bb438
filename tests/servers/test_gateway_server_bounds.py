"""The gateway's own HTTP server at its bounds, over raw sockets: what one connection can make it hold or parse.

A client that pipelines without reading, a trailer field that never ends, a refused body bigger than the read
high-water mark, requests queued behind a running one, and a runtime whose error carries a Retry-After the gateway
cannot pass on: each must leave the gateway answering, bounded and quiet about the bytes it was sent.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gateway_fixtures import FakeRuntime, GatewayProcess, RawRuntime, auth, error_code, eventually
from tests.servers.raw_http import Reader, connect, exchange, request_bytes

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": False}
TIMEOUTS = {"header_timeout_seconds": 5.0, "idle_timeout_seconds": 5.0, "body_timeout_seconds": 5.0,
            "send_timeout_seconds": 5.0, "unauthenticated_rate_per_second": 1000.0, "unauthenticated_burst": 1000}


@pytest.fixture(scope="module")
def gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("bounds"), runtime.url, settings=TIMEOUTS)
    yield process
    process.stop()


def held_chat(name: str) -> bytes:
    return request_bytes("POST", "/v1/chat/completions", auth(), json.dumps({**CHAT, "hold": name}).encode())


# More than any loopback socket buffers hold: a gateway that stops reading a client stops it well before this.
PIPELINED_LIMIT_BYTES = 32 * 1024 * 1024


def bytes_accepted_from_a_client_that_never_reads(port: int, request: bytes) -> int:
    """Pipeline `request` without reading any answer until the gateway stops taking bytes (or the limit)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        burst, pending, accepted = request * 4096, b"", 0
        while accepted < PIPELINED_LIMIT_BYTES:
            _, writable, _ = select.select([], [sock], [], 3.0)
            if not writable:
                break
            pending = pending or burst
            sent = sock.send(pending)
            pending, accepted = pending[sent:], accepted + sent
        return accepted


def test_a_client_that_pipelines_and_never_reads_its_answers_is_not_read_either(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = GatewayProcess(tmp_path, runtime.url, settings={**TIMEOUTS, "send_timeout_seconds": 120.0})
    try:
        accepted = bytes_accepted_from_a_client_that_never_reads(gateway.port, request_bytes("GET", "/healthz"))
        answer = exchange(gateway.port, request_bytes("GET", "/healthz"))  # everyone else is still served
    finally:
        gateway.stop()
    assert accepted < PIPELINED_LIMIT_BYTES
    assert answer.status == 200


def rss_kib(pid: int) -> int:
    return int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:")).split()[1])


def test_tiny_pipelined_requests_behind_an_unread_answer_hold_little_per_connection(gateway: GatewayProcess) -> None:
    tiny = b"GET /healthz HTTP/1.1\r\nHost:a\r\n\r\n" * 2000  # 70 KB of the smallest requests, no key
    before = rss_kib(gateway.process.pid)
    clients: list[socket.socket] = []
    try:
        for _ in range(200):  # clients that never read: the first answers fill their buffers and the rest wait
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.connect(("127.0.0.1", gateway.port))
            sock.setblocking(False)
            try:
                sock.send(tiny)
            except BlockingIOError:
                pass
            clients.append(sock)
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") >= 200)
        assert eventually(lambda: _answers_settled(gateway), timeout=30)
        grown = rss_kib(gateway.process.pid) - before
    finally:
        for sock in clients:
            sock.close()
    # What a request that completes lets the parser read ahead of its answer: a head's slice, not 16 KiB.
    assert grown < 30 * 1024, grown


def _answers_settled(gateway: GatewayProcess) -> bool:
    """No request answered for half a second: every connection waits on its client."""
    count = gateway.total("slm_gateway_requests_total")
    time.sleep(0.5)
    return gateway.total("slm_gateway_requests_total") == count


def test_an_unterminated_trailer_field_is_refused_once_it_passes_the_head_limit(gateway: GatewayProcess) -> None:
    head = request_bytes("POST", "/v1/chat/completions", {**auth(), "Transfer-Encoding": "chunked"})
    body = json.dumps(CHAT).encode()
    with connect(gateway.port) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\nX-Trailer: " % (len(body), body) + b"a" * (96 * 1024))
        reader = Reader(sock)
        response = reader.response()
        assert reader.closed_by_peer(within=5)
    assert (response.status, error_code(response)) == (400, "malformed_request")


def test_requests_behind_a_running_one_wait_unparsed_until_it_is_answered(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    arrived = runtime.arm("parse-ahead")
    big_fields = {f"X-Pad-{n}": "p" * 8000 for n in range(3)}  # one valid head longer than a parse slice
    pipelined = (held_chat("parse-ahead") + request_bytes("GET", "/healthz", big_fields)
                 + b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nBad Name: x\r\n\r\n")
    with connect(gateway.port) as sock:
        sock.sendall(pipelined)
        assert arrived.wait(10)
        parsed_ahead = "malformed request refused" in gateway.logs()
        runtime.release("parse-ahead")
        reader = Reader(sock)
        statuses = [reader.response().status for _ in range(3)]
    assert not parsed_ahead
    assert statuses == [200, 200, 400]


def test_a_refused_body_above_the_read_high_water_mark_leaves_the_connection_reading(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    arrived = runtime.arm("refused-body")
    big = json.dumps({**CHAT, "pad": "x" * 140_000}).encode()
    with connect(gateway.port) as sock:
        sock.sendall(held_chat("refused-body") + request_bytes("POST", "/v1/no-such-route", auth(), big))
        assert arrived.wait(10)
        runtime.release("refused-body")
        reader = Reader(sock)
        first, refused = reader.response(), reader.response()
        sock.sendall(request_bytes("GET", "/healthz"))
        third = reader.response()
    assert (first.status, refused.status, error_code(refused)) == (200, 404, "route_not_found")
    assert refused.header("Connection") is None
    assert third.status == 200


def test_a_refused_body_arriving_with_pipelined_requests_leaves_them_answered_one_at_a_time_in_order(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    arrived = runtime.arm("late-body")
    refused_head = request_bytes("POST", "/v1/no-such-route", {**auth(), "Content-Length": "10"})
    with connect(gateway.port) as sock:
        sock.sendall(refused_head)  # answered before its body arrives
        reader = Reader(sock)
        refused = reader.response()
        sock.sendall(b"0123456789" + held_chat("late-body") + request_bytes("GET", "/healthz"))
        assert arrived.wait(10)
        runtime.release("late-body")
        chat, health = reader.response(), reader.response()
    assert refused.status == 404
    assert (chat.status, "choices" in json.loads(chat.body)) == (200, True)
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})


def test_trailer_fields_count_against_the_field_limit(gateway: GatewayProcess) -> None:
    head = request_bytes("POST", "/v1/chat/completions", {**auth(), "Transfer-Encoding": "chunked"})
    body = json.dumps(CHAT).encode()
    with connect(gateway.port) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\n" % (len(body), body) + b"a: b\r\n" * 200 + b"\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert reader.closed_by_peer(within=5)
    assert (response.status, error_code(response)) == (400, "malformed_request")


def test_a_protocol_switch_request_with_a_body_longer_than_a_parse_slice_is_answered(
    gateway: GatewayProcess,
) -> None:
    body = json.dumps({**CHAT, "pad": "x" * 40_000}).encode()
    switch = {**auth(), "Connection": "Upgrade", "Upgrade": "websocket"}
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", switch, body))
        response = Reader(sock).response()
    assert response.status == 200


@pytest.mark.parametrize("retry_after, passed_on", [
    ("中".encode(), None), (b"\xff", None), (b"120", "120"),
    (b"Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT"),
])
def test_a_runtime_retry_after_is_passed_on_only_in_a_form_http_allows(
    tmp_path: Path, retry_after: bytes, passed_on: str | None
) -> None:
    runtime = RawRuntime(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + retry_after
                         + b"\r\nContent-Length: 0\r\n\r\n")
    gateway = GatewayProcess(tmp_path, runtime.url, settings=TIMEOUTS)
    try:
        with connect(gateway.port) as sock:
            sock.sendall(request_bytes("GET", "/v1/models", auth()) * 2)
            reader = Reader(sock)
            answers = [reader.response(), reader.response()]
        logs = gateway.logs()
    finally:
        gateway.stop()
        runtime.close()
    assert [(a.status, error_code(a), a.header("Retry-After")) for a in answers] == [
        (503, "upstream_error", passed_on)] * 2
    assert "Task exception" not in logs and "Retry-After" not in logs
