"""The real gateway process against hostile clients, spoken to byte for byte over raw sockets.

Each test sends exactly the bytes an attacker would (no HTTP client normalises the path or the
headers first) and asserts the gateway's own answer: status, the OpenAI-shaped body, and that
nothing reached the runtime when nothing should.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gateway_fixtures import KEYS, FakeRuntime, GatewayProcess, auth, error_code, eventually, key_file_text
from tests.servers.raw_http import Reader, connect, exchange, request_bytes

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUTS = {"header_timeout_seconds": 1.0, "idle_timeout_seconds": 2.0, "body_timeout_seconds": 1.0,
            "send_timeout_seconds": 1.0}


def chat(key_id: str, body: dict[str, object] | None = None, target: str = "/v1/chat/completions") -> bytes:
    return request_bytes("POST", target, auth(key_id), json.dumps(body or CHAT).encode())


@pytest.fixture(scope="module")
def gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    settings = {**TIMEOUTS, "max_concurrency": 1, "max_queue": 1, "unauthenticated_rate_per_second": 1000.0,
                "unauthenticated_burst": 1000}
    process = GatewayProcess(tmp_path_factory.mktemp("hostile"), runtime.url, settings=settings)
    yield process
    process.stop()


def _gateway(tmp_path: Path, runtime: FakeRuntime, **settings: object) -> GatewayProcess:
    return GatewayProcess(tmp_path, runtime.url, settings={**TIMEOUTS, **settings})


def _idle(gateway: GatewayProcess, key_id: str) -> bool:
    return (gateway.sample("slm_gateway_in_flight_requests", key_id=key_id) == 0
            and gateway.sample("slm_gateway_queued_requests", key_id=key_id) == 0)


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/api/%70ull"), ("DELETE", "/api/delet%65"), ("POST", "/api/%63reate"), ("POST", "/api/%63opy"),
        ("POST", "/api/pu%73h"), ("POST", "/api/blob%73/sha256:00"), ("POST", "/api//pull"),
        ("POST", "/api/./pull"), ("POST", "/v1/../api/pull"), ("POST", "/v1/%2e%2e/api/pull"),
        ("POST", "/v1/%2E%2E/%2E%2E/api/%70ull"), ("POST", "http://runtime:11434/api/pull"),
    ],
)
def test_model_management_is_refused_however_the_path_is_spelled(
    gateway: GatewayProcess, runtime: FakeRuntime, method: str, target: str
) -> None:
    seen = len(runtime.raw_paths)
    response = exchange(gateway.port, request_bytes(method, target, auth("alice"), b'{"model":"x"}'))
    assert (response.status, error_code(response)) == (403, "route_forbidden")
    assert target.encode() not in response.raw + response.body
    assert len(runtime.raw_paths) == seen


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/api/PULL", 404, "route_not_found"), ("/API/pull", 404, "route_not_found"),
        ("/api/pull/", 404, "route_not_found"), ("/metrics", 404, "route_not_found"),
        ("/api%2Fpull", 400, "invalid_request_target"), ("/api/%2570ull", 400, "invalid_request_target"),
        ("/api/%u0070ull", 400, "invalid_request_target"), ("/api/p%5cull", 400, "invalid_request_target"),
        ("/api/pull%00", 400, "invalid_request_target"), ("/api/pull#x", 400, "invalid_request_target"),
    ],
)
def test_other_spellings_are_not_found_or_refused_as_ambiguous(
    gateway: GatewayProcess, runtime: FakeRuntime, target: str, status: int, code: str
) -> None:
    seen = len(runtime.raw_paths)
    response = exchange(gateway.port, request_bytes("POST", target, auth("alice"), b"{}"))
    assert (response.status, error_code(response)) == (status, code)
    assert len(runtime.raw_paths) == seen


def test_an_exempt_health_path_carries_no_body_to_the_runtime(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    for framing in ({"Content-Length": "10"}, {"Transfer-Encoding": "chunked"}):
        body = b"0123456789" if "Content-Length" in framing else b"a\r\n0123456789\r\n0\r\n\r\n"
        response = exchange(gateway.port, request_bytes("GET", "/", framing, body))
        assert (response.status, error_code(response)) == (413, "request_too_large")
    assert len(runtime.raw_paths) == seen
    assert json.loads(exchange(gateway.port, request_bytes("GET", "/")).body) == {"status": "ok"}


def test_traversal_from_a_health_path_does_not_skip_the_key(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    for target in ("/healthz/../v1/models", "/%2e%2e/v1/models", "/./v1/models", "//v1/models"):
        response = exchange(gateway.port, request_bytes("GET", target))
        assert (response.status, error_code(response)) == (401, "missing_api_key")
    assert len(runtime.raw_paths) == seen


def test_allowed_routes_are_forwarded_exactly_in_canonical_form(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    for target in ("/v1//chat/./completions", "/v1/%63hat/completions", "/x/../v1/chat/completions?trace=1"):
        response = exchange(gateway.port, chat("bob", target=target))
        assert response.status == 200
    assert runtime.raw_paths[-3:] == ["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions?trace=1"]
    exchange(gateway.port, request_bytes("GET", "/v1/models/%71wen3%3A1.7b", auth("bob")))
    assert runtime.raw_paths[-1] == "/v1/models/qwen3:1.7b"


# -- clients that leave --------------------------------------------------------------------------


def test_client_leaving_before_the_first_byte_cancels_the_runtime_request_and_frees_the_slot(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    arrived = runtime.arm("before-first-byte")
    cancelled = runtime.cancelled
    sock = connect(gateway.port)
    sock.sendall(chat("alice", {**CHAT, "hold": "before-first-byte"}))
    assert arrived.wait(10)
    assert gateway.sample("slm_gateway_in_flight_requests", key_id="alice") == 1
    sock.close()
    assert eventually(lambda: runtime.cancelled == cancelled + 1 and _idle(gateway, "alice"))
    assert exchange(gateway.port, chat("alice")).status == 200  # the slot (max_concurrency 1) is free
    assert gateway.sample("slm_gateway_requests_total", route="/v1/chat/completions", status="499", key_id="alice") >= 1
    runtime.release("before-first-byte")


def test_client_leaving_mid_stream_closes_the_runtime_stream(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    """The stream's tokens stay unknown (its usage event never came): counted as unread, not silently lost."""
    arrived = runtime.arm("mid-stream")
    cancelled, disconnects = runtime.cancelled, runtime.disconnects
    unread = gateway.sample("slm_gateway_usage_unread_total", reason="client_closed", key_id="alice")
    sock = connect(gateway.port)
    sock.sendall(chat("alice", {**CHAT, "stream": True, "hold": "mid-stream"}))
    reader = Reader(sock)
    while b"data: " not in reader.buffer:
        assert reader._fill()
    assert arrived.wait(10)
    sock.close()
    assert eventually(lambda: runtime.cancelled + runtime.disconnects > cancelled + disconnects and _idle(gateway, "alice"))
    assert gateway.sample("slm_gateway_usage_unread_total", reason="client_closed", key_id="alice") == unread + 1
    runtime.release("mid-stream")
    assert exchange(gateway.port, chat("alice")).status == 200


def test_client_leaving_while_queued_gives_up_its_place(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    arrived = runtime.arm("queue-holder")
    holder = connect(gateway.port, timeout=30)
    holder.sendall(chat("alice", {**CHAT, "hold": "queue-holder"}))
    assert arrived.wait(10)
    waiter = connect(gateway.port)
    waiter.sendall(chat("alice"))
    assert eventually(lambda: gateway.sample("slm_gateway_queued_requests", key_id="alice") == 1)
    waiter.close()
    assert eventually(lambda: gateway.sample("slm_gateway_queued_requests", key_id="alice") == 0)
    runtime.release("queue-holder")
    assert Reader(holder).response().status == 200
    holder.close()
    assert eventually(lambda: _idle(gateway, "alice"))
    assert exchange(gateway.port, chat("alice")).status == 200


def test_client_leaving_during_the_body_frees_everything(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    sock = connect(gateway.port)
    head = request_bytes("POST", "/v1/chat/completions", {**auth("alice"), "Content-Length": "5000"})
    sock.sendall(head + b'{"model":')
    assert eventually(lambda: gateway.sample("slm_gateway_in_flight_requests", key_id="alice") == 1)
    sock.close()
    assert eventually(lambda: _idle(gateway, "alice"))
    assert len(runtime.raw_paths) == seen


# -- deadlines -------------------------------------------------------------------------------------


def test_a_request_head_must_arrive_within_the_header_deadline(gateway: GatewayProcess) -> None:
    before = gateway.sample("slm_gateway_rejections_total", reason="header_timeout", key_id="none")
    silent = connect(gateway.port)
    trickle = connect(gateway.port)
    partial = connect(gateway.port)
    partial.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")
    for byte in b"GET /v1/models HTTP/1.1\r\nHost: g":  # slowloris: steady activity must not extend the deadline
        try:
            trickle.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.1)
    for sock in (silent, trickle, partial):
        assert Reader(sock).closed_by_peer(within=5), "the gateway kept a connection without a request head"
        sock.close()
    assert gateway.sample("slm_gateway_rejections_total", reason="header_timeout", key_id="none") >= before + 3


def test_an_idle_keep_alive_connection_is_closed(gateway: GatewayProcess) -> None:
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("GET", "/healthz"))
        reader = Reader(sock)
        assert reader.response().status == 200
        assert not reader.closed_by_peer(within=0.5)  # keep-alive works
        assert reader.closed_by_peer(within=5)


def test_a_body_must_arrive_within_the_body_deadline(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", {**auth("alice"), "Content-Length": "100"}) + b"{")
        response = Reader(sock).response()
        assert (response.status, error_code(response)) == (408, "request_timeout")
        assert response.header("Connection") == "close"
    assert len(runtime.raw_paths) == seen
    assert eventually(lambda: _idle(gateway, "alice"))


def test_a_client_that_stops_reading_is_cut_off_and_frees_its_slot(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    disconnects = runtime.disconnects + runtime.cancelled
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gateway.port))
    sock.sendall(request_bytes("POST", "/api/generate", auth("alice"), b'{"model":"tiny","prompt":"x","flood":true}'))
    try:
        assert eventually(lambda: gateway.sample("slm_gateway_rejections_total", reason="send_timeout", key_id="none") >= 1,
                          timeout=20)
        assert eventually(lambda: _idle(gateway, "alice") and runtime.disconnects + runtime.cancelled > disconnects)
    finally:
        sock.close()


def _pipeline_without_reading(port: int) -> socket.socket:
    """A connection that pipelines requests the gateway refuses (a key, a route that does not exist) and never
    reads an answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    flood = request_bytes("GET", "/v1/no-such-route", auth("alice")) * 15000
    with contextlib.suppress(BlockingIOError):
        while flood:
            flood = flood[sock.send(flood):]
    return sock


def _answers_stalled(gateway: GatewayProcess) -> bool:
    """No request was answered for half a second: every connection is blocked writing."""
    before = gateway.total("slm_gateway_requests_total")
    time.sleep(0.5)
    return gateway.total("slm_gateway_requests_total") == before


def test_a_client_that_never_reads_its_refusals_is_cut_off(gateway: GatewayProcess) -> None:
    before = gateway.total("slm_gateway_rejections_total", reason="send_timeout")
    sock = _pipeline_without_reading(gateway.port)
    try:
        assert eventually(lambda: gateway.total("slm_gateway_rejections_total", reason="send_timeout") > before,
                          timeout=20)
        sock.setblocking(True)
        sock.settimeout(10)
        with pytest.raises(ConnectionResetError):  # dropped with what it never read, not flushed forever
            while sock.recv(65536):
                pass
    finally:
        sock.close()


def test_a_refused_request_without_a_key_closes_its_connection_and_what_was_pipelined_behind_it(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    flood = request_bytes("GET", "/v1/models") * 2000
    with connect(gateway.port, 10) as sock:
        sock.sendall(flood[:65536])
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in received, received[:300]


def test_connections_blocked_writing_to_clients_that_never_read_make_room_under_the_cap(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = _gateway(tmp_path, runtime, max_connections=4, send_timeout_seconds=60.0,
                       unauthenticated_rate_per_second=1000.0, unauthenticated_burst=1000)
    sockets: list[socket.socket] = []
    try:
        sockets += [_pipeline_without_reading(gateway.port) for _ in range(4)]
        assert eventually(lambda: _answers_stalled(gateway), timeout=60)
        models = request_bytes("GET", "/v1/models", auth("bob"))
        # Once their clients have read nothing for the stall time (10 s here), each stalled one makes room.
        assert eventually(lambda: exchange(gateway.port, models).status == 200, timeout=30, interval=0.5)
        for _ in range(3):
            assert exchange(gateway.port, models).status == 200
    finally:
        for sock in sockets:
            sock.close()
        gateway.stop()


# -- connection cap ----------------------------------------------------------------------------


def test_the_connection_cap_evicts_idle_connections_first_then_answers_503(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime, max_connections=8, header_timeout_seconds=30.0, idle_timeout_seconds=30.0)
    sockets: list[socket.socket] = []
    try:
        sockets += [connect(gateway.port) for _ in range(8)]  # idle: connected, nothing sent
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 8)  # all accepted, at the cap
        assert exchange(gateway.port, request_bytes("GET", "/v1/models", auth("bob"))).status == 200
        assert eventually(lambda: gateway.sample("slm_gateway_rejections_total", reason="idle_connection_evicted",
                                                 key_id="none") >= 1)
        for sock in sockets:
            sock.close()
        sockets.clear()
        # The gateway must have seen those closes, or the busy connections below would make room by evicting each other.
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 0)
        arrived = runtime.arm("cap")
        for _ in range(8):  # busy: every connection has a request the runtime holds
            sock = connect(gateway.port, timeout=30)
            sock.sendall(request_bytes("POST", "/api/generate", auth("carol"), b'{"stream":false,"hold":"cap"}'))
            sockets.append(sock)
        assert arrived.wait(10)
        assert eventually(lambda: gateway.sample("slm_gateway_in_flight_requests", key_id="carol") == 8)
        refused = exchange(gateway.port, request_bytes("GET", "/v1/models", auth("bob")))
        assert (refused.status, error_code(refused), refused.header("Retry-After")) == (503, "too_many_connections", "1")
        runtime.release("cap")
        assert all(Reader(sock).response().status == 200 for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
        gateway.stop()


def test_a_client_reading_a_stream_steadily_is_never_evicted_by_newcomers_at_the_cap(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = _gateway(tmp_path, runtime, max_connections=8, header_timeout_seconds=30.0, send_timeout_seconds=60.0,
                       unauthenticated_rate_per_second=1000.0, unauthenticated_burst=1000)
    stream = connect(gateway.port, timeout=30)
    stream.sendall(chat("alice", {"model": "tiny", "stream": True, "flood": True}, target="/api/chat"))
    read, ended = [0], threading.Event()

    def read_steadily() -> None:  # a client on a slow link: it keeps reading, below what the runtime sends
        with contextlib.suppress(OSError):
            while not ended.is_set() and (data := stream.recv(16384)):
                read[0] += len(data)
                time.sleep(0.01)
        ended.set()

    reader = threading.Thread(target=read_steadily, daemon=True)
    reader.start()
    newcomers: list[socket.socket] = []
    try:
        assert eventually(lambda: read[0] > 1_000_000, timeout=30)
        for _ in range(60):  # connections without a key, each pushing the gateway to the cap
            newcomers.append(connect(gateway.port))
            time.sleep(0.05)
        evicted = gateway.total("slm_gateway_rejections_total", reason="idle_connection_evicted")
        assert evicted >= 50
        assert not ended.is_set(), read[0]  # still open: the stream was never the one that made room
    finally:
        ended.set()
        stream.close()
        for sock in newcomers:
            sock.close()
        reader.join(10)
        gateway.stop()


def test_connections_waiting_only_for_the_body_of_an_answered_request_make_room_under_the_cap(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = _gateway(tmp_path, runtime, max_connections=4, header_timeout_seconds=30.0, idle_timeout_seconds=30.0,
                       unauthenticated_rate_per_second=1000.0, unauthenticated_burst=1000)
    announced = b"GET %s HTTP/1.1\r\nHost: g\r\nContent-Length: 10\r\n\r\n"  # and the body never comes
    lingering: list[socket.socket] = []
    try:
        for port, path, count in ((gateway.port, b"/healthz", 4), (gateway.metrics_port, b"/nope", 16)):
            for _ in range(count):  # without a key: the health path is answered before its body, as is a 404
                sock = connect(port, timeout=30)
                sock.sendall(announced % path)
                assert Reader(sock).response().status in (200, 404)
                lingering.append(sock)
        assert exchange(gateway.port, request_bytes("GET", "/v1/models", auth("bob"))).status == 200
        assert "slm_gateway_open_connections" in gateway.metrics_text()  # the metrics port is not blinded either
        assert gateway.total("slm_gateway_rejections_total", reason="connection_limit") == 0
    finally:
        for sock in lingering:
            sock.close()
        gateway.stop()


# -- malformed requests ------------------------------------------------------------------------

KEY = KEYS["alice"]
MALFORMED = {
    "control character in a header value": f"GET /v1/models HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY}\x01\r\n\r\n",
    "space in a header name": f"GET /v1/models HTTP/1.1\r\nHost: g\r\nAuthorization : Bearer {KEY}\r\n\r\n",
    "no colon in a header": f"GET /v1/models HTTP/1.1\r\nHost: g\r\nBearer {KEY}\r\n\r\n",
    "folded header": f"GET /v1/models HTTP/1.1\r\nHost: g\r\nX-A: b\r\n Bearer {KEY}\r\n\r\n",
    "key in a broken request line": f"GET /v1/models?k={KEY} HTTP/9.x\r\nHost: g\r\n\r\n",
    "key as the method": f"{KEY}\x02 /v1/models HTTP/1.1\r\nHost: g\r\n\r\n",
    "header line too long": f"GET /v1/models HTTP/1.1\r\nHost: g\r\nX-Key: {KEY}{'a' * 9000}\r\n\r\n",
    "bad chunk size": f"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY}\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\nzz{KEY}\r\n",
    "smuggling: length and chunked": f"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY}\r\n"
                                     f"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                                     f"POST /api/pull HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY}\r\n\r\n",
    "a transfer coding under chunked": f"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {KEY}\r\n"
                                       f"Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
    "two content lengths": f"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
                           f"X-Key: {KEY}\r\n\r\n{{}}",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_requests_get_a_json_400_that_repeats_nothing(gateway: GatewayProcess, name: str) -> None:
    before = gateway.total("slm_gateway_rejections_total", reason="malformed_request")
    logged = len(gateway.logs().splitlines())
    with connect(gateway.port) as sock:
        sock.sendall(MALFORMED[name].encode("latin-1"))
        reader = Reader(sock)
        response = reader.response()
        assert reader.closed_by_peer(within=5)
        rest = reader.buffer
    assert (response.status, error_code(response)) == (400, "malformed_request")
    assert KEY.encode() not in response.raw + response.body + rest
    assert eventually(lambda: gateway.total("slm_gateway_rejections_total", reason="malformed_request") == before + 1)
    new_lines = [json.loads(line) for line in gateway.logs().splitlines()[logged:]]
    assert KEY not in gateway.logs()
    assert [line["level"] for line in new_lines if "malformed" in json.dumps(line)] == ["info"]
    assert not [line for line in new_lines if line["level"] in ("error", "critical")]


def test_a_large_body_sent_with_its_head_in_one_write_is_not_counted_as_head(gateway: GatewayProcess) -> None:
    padding = "x" * (600 << 10)  # below the fake runtime's own 1 MiB limit
    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": padding}]}).encode()
    before = gateway.total("slm_gateway_rejections_total", reason="internal_error")
    for _ in range(5):
        answer = exchange(gateway.port, request_bytes("POST", "/v1/chat/completions", auth("bob"), body))
        assert answer.status == 200
    assert gateway.total("slm_gateway_rejections_total", reason="internal_error") == before


def test_a_request_head_too_large_to_hold_is_refused(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    """Each line within aiohttp's limits, the whole head above 64 KiB: refused before it can pile up."""
    seen = len(runtime.raw_paths)
    head = request_bytes("GET", "/v1/models", {**{f"X-Padding-{i}": "p" * 1000 for i in range(100)}, **auth("bob")})
    for sent in (head, head[:70_000]):  # whole, or still arriving when it passes the limit
        with connect(gateway.port) as sock:
            sock.sendall(sent)
            response = Reader(sock).response()
        assert (response.status, error_code(response)) == (431, "request_header_fields_too_large")
    assert len(runtime.raw_paths) == seen


# -- headers -----------------------------------------------------------------------------------


def test_hop_by_hop_and_forwarding_headers_never_reach_the_runtime(gateway: GatewayProcess) -> None:
    sent = {**auth("bob"), "Connection": "keep-alive, X-Hop-Secret", "X-Hop-Secret": "1", "Keep-Alive": "timeout=5",
            "TE": "trailers", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Prefix": "/evil", "Forwarded": "for=203.0.113.9", "X-Real-IP": "203.0.113.9",
            "Proxy-Authorization": "Basic eDp5", "Cookie": "session=abc", "X-Client-Trace": "t-1"}
    response = exchange(gateway.port, request_bytes("POST", "/v1/embeddings", sent, b'{"input":"x"}'))
    received = {k.lower(): v for k, v in json.loads(response.body)["received"].items()}
    for name in ("x-hop-secret", "keep-alive", "te", "x-forwarded-host", "x-forwarded-prefix", "forwarded", "x-real-ip",
                 "proxy-authorization", "cookie", "authorization"):
        assert name not in received, name
    assert received["x-forwarded-for"] == "127.0.0.1"  # what the gateway saw, not what the client claimed
    assert received["x-client-trace"] == "t-1"  # end-to-end headers pass


def test_runtime_response_headers_pass_only_through_the_allow_list(gateway: GatewayProcess) -> None:
    response = exchange(gateway.port, request_bytes("POST", "/v1/embeddings", auth("bob"), b'{"input":"x"}'))
    assert response.status == 200
    assert response.header("Server") == "slm-gateway"
    assert response.header("Cache-Control") == "no-store"
    for name in ("set-cookie", "x-internal-host", "x-request-id"):  # X-Request-Id was named in Connection
        assert name not in response.names(), name
    assert b"internal-runtime" not in response.raw


def test_runtime_errors_and_redirects_stay_inside(gateway: GatewayProcess) -> None:
    failed = exchange(gateway.port, request_bytes("POST", "/api/embed", auth("bob"), b'{"input":"x"}'))
    assert (failed.status, error_code(failed), failed.header("Retry-After")) == (500, "upstream_error", "3")
    assert b"panic" not in failed.body and b"/srv/internal" not in failed.body
    redirected = exchange(gateway.port, request_bytes("POST", "/api/show", auth("bob"), b'{"model":"x"}'))
    assert (redirected.status, error_code(redirected)) == (502, "upstream_error")
    assert redirected.header("Location") is None and b"10.0.0.5" not in redirected.raw
    challenged = exchange(gateway.port, request_bytes("GET", "/api/tags", auth("bob"), b""))
    assert (challenged.status, error_code(challenged)) == (502, "upstream_error")
    assert challenged.header("Proxy-Authenticate") is None and b"10.0.0.5" not in challenged.raw


# -- health, metrics, 100-continue -----------------------------------------------------------------


def test_healthz_reveals_nothing_and_metrics_are_not_on_the_public_port(gateway: GatewayProcess) -> None:
    health = exchange(gateway.port, request_bytes("GET", "/healthz"))
    assert json.loads(health.body) == {"status": "ok"}
    metrics = exchange(gateway.port, request_bytes("GET", "/metrics", auth("bob")))
    assert (metrics.status, error_code(metrics)) == (404, "route_not_found")
    other = exchange(gateway.metrics_port, request_bytes("GET", "/metrics/../../etc"))
    assert (other.status, error_code(other)) == (404, "route_not_found")


def _listening_address(port: int) -> str:
    """The local address a TCP listener on `port` is bound to, from the kernel's own table."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if int(hex_port, 16) == port and state == "0A":
                return address
    raise AssertionError(f"nothing listens on {port}")


def test_metrics_listen_where_the_config_says(gateway: GatewayProcess) -> None:
    assert gateway.config_file.read_text().count('host = "127.0.0.1"') == 2
    assert _listening_address(gateway.metrics_port) == "0100007F"  # 127.0.0.1, not every interface


def test_no_100_continue_before_the_key_is_checked(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    body = json.dumps(CHAT).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Expect": "100-continue"}
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", headers))
        refused = Reader(sock).response()
        assert (refused.status, error_code(refused)) == (401, "missing_api_key")
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", {**headers, **auth("bob")}))
        reader = Reader(sock)
        assert reader.response().status == 100
        sock.sendall(body)
        assert reader.response().status == 200
    odd = exchange(gateway.port, request_bytes("POST", "/v1/chat/completions", {**auth("bob"), "Expect": "x-" + KEY}))
    assert (odd.status, error_code(odd)) == (417, "expectation_failed")
    assert KEY.encode() not in odd.raw + odd.body


def test_compressed_and_oversized_bodies_are_refused_before_they_are_read(gateway: GatewayProcess) -> None:
    gzip = exchange(gateway.port, request_bytes("POST", "/v1/chat/completions",
                                                {**auth("bob"), "Content-Encoding": "gzip"}, b"\x1f\x8b"))
    assert (gzip.status, error_code(gzip)) == (415, "unsupported_content_encoding")
    huge = exchange(gateway.port, request_bytes("POST", "/v1/chat/completions",
                                                {**auth("bob"), "Content-Length": str(64 << 20)}))
    assert (huge.status, error_code(huge)) == (413, "request_too_large")


@pytest.mark.parametrize(
    "fields", [[b"identity", b"gzip"], [b"identity, gzip"], [b"gzip", b"identity"]], ids=["repeated", "listed", "first"]
)
def test_every_content_encoding_value_is_checked(gateway: GatewayProcess, runtime: FakeRuntime, fields: list[bytes]) -> None:
    head = request_bytes("POST", "/v1/chat/completions", {**auth("bob"), "Content-Length": "2"}).removesuffix(b"\r\n")
    encodings = b"".join(b"Content-Encoding: " + value + b"\r\n" for value in fields)
    before = len(runtime.seen)
    refused = exchange(gateway.port, head + encodings + b"\r\n\x1f\x8b")
    assert (refused.status, error_code(refused)) == (415, "unsupported_content_encoding")
    assert len(runtime.seen) == before


# -- limits ------------------------------------------------------------------------------------


def test_a_request_refused_for_concurrency_spends_no_rate_token(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime, max_concurrency=1, rate_per_second=0.001, burst=2)
    try:
        arrived = runtime.arm("token")
        holder = connect(gateway.port, timeout=30)
        holder.sendall(chat("alice", {**CHAT, "hold": "token"}))  # spends token 1 of 2
        assert arrived.wait(10)
        for _ in range(3):
            refused = exchange(gateway.port, chat("alice"))
            assert (refused.status, error_code(refused)) == (429, "concurrency_limit_exceeded")
        runtime.release("token")
        assert Reader(holder).response().status == 200
        holder.close()
        assert eventually(lambda: _idle(gateway, "alice"))
        assert exchange(gateway.port, chat("alice")).status == 200  # token 2 was still there
        limited = exchange(gateway.port, chat("alice"))
        assert (limited.status, error_code(limited)) == (429, "rate_limit_exceeded")
    finally:
        gateway.stop()


def test_requests_without_a_valid_key_are_rate_limited(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime, unauthenticated_rate_per_second=0.001, unauthenticated_burst=3)
    try:
        wrong = {"Authorization": "Bearer sk-wrong-0000000000000000000000000000"}
        statuses = [exchange(gateway.port, request_bytes("GET", "/v1/models", wrong)).status for _ in range(3)]
        limited = exchange(gateway.port, request_bytes("GET", "/v1/models", wrong))
        anonymous = exchange(gateway.port, request_bytes("GET", "/v1/models"))
        assert statuses == [401, 401, 401]
        assert (limited.status, error_code(limited)) == (429, "unauthenticated_rate_limit_exceeded")
        assert (anonymous.status, error_code(anonymous)) == (429, "unauthenticated_rate_limit_exceeded")
        assert exchange(gateway.port, request_bytes("GET", "/v1/models", auth("bob"))).status == 200
        assert exchange(gateway.port, request_bytes("GET", "/healthz")).status == 200  # probes are never limited
    finally:
        gateway.stop()


# -- key file --------------------------------------------------------------------------------------


def test_rewriting_the_key_file_in_place_never_locks_a_client_out(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime)
    versions = [key_file_text(KEYS).encode(), key_file_text({**KEYS, "dave": "sk-dave-" + "d" * 32}).encode()]
    stop = threading.Event()
    written: list[int] = []

    def rewrite_in_place() -> None:
        index = 0
        while not stop.is_set():
            data = versions[index % 2]
            with open(gateway.key_file, "r+b") as handle:  # truncate, then write in two parts: readers can see both
                handle.truncate(0)
                handle.write(data[: data.index(b"\n") + 1])  # the comment line alone: a file with no keys
                handle.flush()
                time.sleep(0.003)
                handle.write(data[data.index(b"\n") + 1 :])
            index += 1
            time.sleep(0.02)
        written.append(index - 1)

    writer = threading.Thread(target=rewrite_in_place)
    writer.start()
    try:
        statuses = set()
        deadline = time.monotonic() + 4
        with connect(gateway.port) as sock:
            reader = Reader(sock)
            while time.monotonic() < deadline:
                sock.sendall(request_bytes("GET", "/v1/models", auth("alice")))
                statuses.add(reader.response().status)
        assert statuses == {200}
        stop.set()
        writer.join(10)
        settled_keys = len(KEYS) + written[0] % 2  # the last version written, once it stops changing
        assert eventually(lambda: gateway.sample("slm_gateway_keys_loaded") == settled_keys)
    finally:
        stop.set()
        writer.join(10)
        gateway.stop()


def test_a_key_file_written_key_first_never_leaks_the_key(gateway: GatewayProcess) -> None:
    errors_before = gateway.sample("slm_gateway_key_file_reloads_total", result="error")
    swapped = f"{KEYS['alice']}:alice\n{KEYS['bob']}:bob-the-builder\n"
    try:
        gateway.key_file.write_text(swapped)
        assert eventually(lambda: gateway.sample("slm_gateway_key_file_reloads_total", result="error") > errors_before)
        assert exchange(gateway.port, request_bytes("GET", "/v1/models", auth("alice"))).status == 200
    finally:
        gateway.write_keys(KEYS)
    for text in (gateway.logs(), gateway.metrics_text()):
        assert KEYS["alice"] not in text and KEYS["bob"] not in text


def test_a_log_stream_that_fails_loses_lines_but_never_a_request(tmp_path: Path, runtime: FakeRuntime) -> None:
    """A log collector that went away (a broken stdout pipe): every keep-alive request is still answered."""
    read_end, write_end = os.pipe()
    process = GatewayProcess(tmp_path, runtime.url, settings={**TIMEOUTS, "unauthenticated_rate_per_second": 1000.0,
                                                              "unauthenticated_burst": 1000}, stdout=write_end)
    os.close(write_end)
    os.close(read_end)  # the reader goes: every later write to stdout fails with a broken pipe
    try:
        for _ in range(3):
            with connect(process.port) as sock:
                sock.sendall(request_bytes("GET", "/v1/models", auth("alice")) * 2)
                reader = Reader(sock)
                assert [reader.response().status for _ in range(2)] == [200, 200]
        assert process.sample("slm_gateway_log_write_errors_total") >= 1
        assert process.process.poll() is None
        assert "Traceback" not in process.logs() and "Logging error" not in process.logs()
    finally:
        process.stop()


STALLED_STREAMS = 16
# What one stalled stream may hold in the gateway: the client's transport at its 64 KiB high-water mark plus one
# relayed read, and the runtime's body up to its 64 KiB high-water mark plus one 16 KiB socket read.
STALLED_STREAM_BOUND = 256 * 1024


def test_clients_that_stop_reading_a_stream_each_hold_a_bounded_answer(tmp_path: Path, runtime: FakeRuntime) -> None:
    """Many streams whose clients never read: the relay stops reading the runtime instead of buffering for them."""
    process = _gateway(tmp_path, runtime, max_concurrency=0, send_timeout_seconds=600.0)
    sockets = []
    try:
        for _ in range(STALLED_STREAMS):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", process.port))
            sock.sendall(request_bytes("POST", "/api/generate", auth("alice"),
                                       b'{"model":"tiny","prompt":"x","flood":true}'))
            sockets.append(sock)
        assert eventually(lambda: process.sample("slm_gateway_in_flight_requests", key_id="alice") == STALLED_STREAMS)
        # Every stream fills its client's transport (past 64 KiB) and then the runtime's side (past 64 KiB).
        assert eventually(lambda: process.sample("slm_gateway_relay_buffered_bytes") >= STALLED_STREAMS * 128 * 1024,
                          timeout=60)
        for _ in range(10):
            assert process.sample("slm_gateway_relay_buffered_bytes") <= STALLED_STREAMS * STALLED_STREAM_BOUND
    finally:
        for sock in sockets:
            sock.close()
        process.stop()
