"""The gateway's own HTTP server, spoken to over raw sockets: framing, pipelining, HTTP/1.0, TLS and shutdown.

Each test drives the real gateway process with bytes a client library would never send that way (requests
pipelined in one write, a body split across writes, a chunked body whose framing breaks after its head was
handled) and asserts what the client and the runtime each saw.
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.gateway_fixtures import KEYS, FakeRuntime, GatewayProcess, auth, error_code, eventually
from tests.servers.raw_http import Reader, connect, exchange, request_bytes
from tests.servers.test_gateway_server_bounds import rss_kib
from tests.support.tools import find_executable

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUTS = {"header_timeout_seconds": 2.0, "idle_timeout_seconds": 3.0, "body_timeout_seconds": 2.0,
            "send_timeout_seconds": 2.0, "unauthenticated_rate_per_second": 1000.0, "unauthenticated_burst": 1000}


@pytest.fixture(scope="module")
def gateway(runtime: FakeRuntime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("server"), runtime.url, settings=TIMEOUTS)
    yield process
    process.stop()


def _seen_bodies(runtime: FakeRuntime, since: int) -> list[object]:
    return [seen.body for seen in runtime.seen[since:]]


# -- pipelining ----------------------------------------------------------------------------------


def test_pipelined_requests_are_answered_in_order(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    body = json.dumps({**CHAT, "stream": False}).encode()
    pipelined = (request_bytes("GET", "/healthz") + request_bytes("POST", "/v1/chat/completions", auth(), body)
                 + request_bytes("GET", "/v1/no-such-route", auth()) + request_bytes("HEAD", "/healthz"))
    with connect(gateway.port) as sock:
        sock.sendall(pipelined)
        reader = Reader(sock)
        health, completion, missing, head = (reader.response(), reader.response(), reader.response(),
                                             reader.response(head_only=True))
        assert not reader.closed_by_peer(within=0.3)  # every answer kept the connection open
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    assert completion.status == 200 and json.loads(completion.body)["object"] == "chat.completion"
    assert (missing.status, error_code(missing)) == (404, "route_not_found")
    assert head.status == 200 and head.header("Content-Length") == str(len(health.body)) and reader.buffer == b""


def test_a_request_pipelined_behind_a_malformed_one_is_never_answered(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("GET", "/healthz") + b"GET /v1/models HTTP/1.1\r\n\r\n"  # no Host in HTTP/1.1
                     + request_bytes("GET", "/v1/models", auth()))
        reader = Reader(sock)
        assert reader.response().status == 200
        refused = reader.response()
        assert (refused.status, error_code(refused)) == (400, "malformed_request")
        assert refused.header("Connection") == "close"
        assert reader.closed_by_peer(within=5) and reader.buffer == b""
    assert len(runtime.raw_paths) == seen


# -- request bodies --------------------------------------------------------------------------------


def test_a_body_split_across_reads_reaches_the_runtime_whole(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    body = json.dumps({**CHAT, "stream": False, "padding": "p" * 200_000}).encode()
    seen = len(runtime.seen)
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", auth(), body)[:-150_000])
        time.sleep(0.2)
        sock.sendall(body[-150_000:-1])
        time.sleep(0.2)
        sock.sendall(body[-1:])
        assert Reader(sock).response().status == 200
    assert _seen_bodies(runtime, seen) == [json.loads(body)]


def test_a_chunked_body_split_mid_chunk_reaches_the_runtime_whole(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    body = json.dumps({**CHAT, "stream": False}).encode()
    framed = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    seen = len(runtime.seen)
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", {**auth(), "Transfer-Encoding": "chunked"}) + framed[:7])
        time.sleep(0.2)
        sock.sendall(framed[7:-3])
        time.sleep(0.2)
        sock.sendall(framed[-3:])
        assert Reader(sock).response().status == 200
    assert _seen_bodies(runtime, seen) == [json.loads(body)]


@pytest.mark.parametrize("framing", [b"5\r\n{\"a\":1}\r\n0\r\n\r\n", b"zz\r\n", b"3\r\nabc0\r\n\r\n"],
                         ids=["chunk longer than its size", "bad chunk size", "no CRLF after a chunk"])
def test_bad_chunked_framing_after_the_head_is_a_json_400_and_nothing_reaches_the_runtime(
    gateway: GatewayProcess, runtime: FakeRuntime, framing: bytes
) -> None:
    seen = len(runtime.raw_paths)
    before = gateway.total("slm_gateway_rejections_total", reason="malformed_request")
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", {**auth(), "Transfer-Encoding": "chunked"}) + b"2\r\n{}\r\n")
        time.sleep(0.3)  # the head was handled; the body is being read when its framing breaks
        sock.sendall(framing)
        reader = Reader(sock)
        response = reader.response()
        assert reader.closed_by_peer(within=5)
    assert (response.status, error_code(response)) == (400, "malformed_request")
    assert len(runtime.raw_paths) == seen
    assert eventually(lambda: gateway.total("slm_gateway_rejections_total", reason="malformed_request") == before + 1)


def test_a_client_leaving_mid_chunked_body_frees_its_slot(gateway: GatewayProcess, runtime: FakeRuntime) -> None:
    seen = len(runtime.raw_paths)
    sock = connect(gateway.port)
    sock.sendall(request_bytes("POST", "/v1/chat/completions", {**auth("bob"), "Transfer-Encoding": "chunked"})
                 + b"4\r\n{\"mo")
    assert eventually(lambda: gateway.sample("slm_gateway_in_flight_requests", key_id="bob") == 1)
    sock.close()
    assert eventually(lambda: gateway.sample("slm_gateway_in_flight_requests", key_id="bob") == 0)
    assert len(runtime.raw_paths) == seen
    assert exchange(gateway.port, request_bytes("GET", "/v1/models", auth("bob"))).status == 200


def test_a_request_asking_for_a_protocol_switch_is_answered_with_its_body_then_closed(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    """As curl --http2 asks on a plain connection: the gateway never switches, and still reads the sized body."""
    body = json.dumps({**CHAT, "stream": False}).encode()
    head = request_bytes("POST", "/v1/chat/completions", {
        **auth(), "Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__",
        "Content-Length": str(len(body))})
    seen = len(runtime.seen)
    with connect(gateway.port) as sock:
        sock.sendall(head + body[:9])
        time.sleep(0.2)
        sock.sendall(body[9:] + request_bytes("GET", "/healthz"))
        reader = Reader(sock)
        assert reader.response().status == 200
        assert reader.closed_by_peer(within=5) and reader.buffer == b""
    assert _seen_bodies(runtime, seen) == [json.loads(body)]
    assert "Upgrade" not in runtime.seen[seen].headers


# -- HTTP/1.0 and request heads ----------------------------------------------------------------------


def test_http_1_0_keeps_the_connection_only_when_asked(gateway: GatewayProcess) -> None:
    with connect(gateway.port) as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = reader.response()
            assert response.raw.startswith(b"HTTP/1.0 200 ") and response.header("Connection") == "keep-alive"
        assert not reader.closed_by_peer(within=0.3)
    with connect(gateway.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().status == 200
        assert reader.closed_by_peer(within=5)


def test_an_http_1_0_stream_ends_with_the_connection(gateway: GatewayProcess) -> None:
    body = json.dumps({**CHAT, "stream": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\nAuthorization: Bearer {KEYS['alice']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with connect(gateway.port) as sock:
        sock.sendall(head + body)
        response = Reader(sock).response()  # no length and no chunks: read to the close
    assert response.raw.startswith(b"HTTP/1.0 200 ") and response.header("Transfer-Encoding") is None
    assert response.body.rstrip().endswith(b"data: [DONE]")


HEADS = {
    "no Host in HTTP/1.1": b"GET /v1/models HTTP/1.1\r\nAuthorization: Bearer %b\r\n\r\n",
    "two Host fields": b"GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\nAuthorization: Bearer %b\r\n\r\n",
    "two User-Agent fields": b"GET /v1/models HTTP/1.1\r\nHost: a\r\nUser-Agent: a\r\nUser-Agent: %b\r\n\r\n",
    "absolute target without a host": b"GET http:/v1/models?k=%b HTTP/1.1\r\nHost: a\r\n\r\n",
    "target in no form HTTP allows": b"GET v1/models?k=%b HTTP/1.1\r\nHost: a\r\n\r\n",
    "request target too long": b"GET /v1/models?k=%b" + b"a" * 8200 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "too many fields": b"GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Key: %b\r\n" + b"X-A: b\r\n" * 130 + b"\r\n",
    "old WebSocket handshake": b"GET /v1/models HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key1: %b\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_heads_aiohttp_refused_are_still_refused_without_an_echo(gateway: GatewayProcess, name: str) -> None:
    key = KEYS["alice"].encode()
    with connect(gateway.port) as sock:
        sock.sendall(HEADS[name] % key)
        reader = Reader(sock)
        response = reader.response()
        assert reader.closed_by_peer(within=5)
    assert (response.status, error_code(response)) == (400, "malformed_request")
    assert key not in response.raw + response.body + reader.buffer


def test_a_partial_head_pipelined_behind_a_stream_gets_the_header_deadline(
    gateway: GatewayProcess, runtime: FakeRuntime
) -> None:
    before = gateway.sample("slm_gateway_rejections_total", reason="header_timeout", key_id="none")
    body = json.dumps({**CHAT, "stream": False}).encode()
    with connect(gateway.port) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", auth(), body) + b"GET /v1/models HTTP/1.1\r\nHo")
        reader = Reader(sock)
        assert reader.response().status == 200
        assert reader.closed_by_peer(within=10)
    assert eventually(lambda: gateway.sample("slm_gateway_rejections_total", reason="header_timeout",
                                             key_id="none") == before + 1)


# -- TLS and shutdown ------------------------------------------------------------------------------


class TlsGateway(GatewayProcess):
    """The gateway terminating TLS itself; ready once a TLS client gets its health answer."""

    def _answers_health(self) -> bool:
        return tls_exchange(self.port, self.workdir / "cert.pem", request_bytes("GET", "/healthz")).status == 200


def client_context(ca: Path) -> ssl.SSLContext:
    """A TLS client context trusting the test certificate, whose name is not the loopback address dialled."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    return context


def tls_exchange(port: int, ca: Path, data: bytes) -> object:
    context = client_context(ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw) as sock:
            sock.sendall(data)
            return Reader(sock).response()  # type: ignore[arg-type]


def tls_settings(tmp_path: Path) -> dict[str, object]:
    """A self-signed certificate for the gateway, written to `tmp_path`, and the settings that serve it."""
    openssl = find_executable("openssl", "apt-get install openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gateway",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return {**TIMEOUTS, "tls_cert_file": str(tmp_path / "cert.pem"), "tls_key_file": str(tmp_path / "key.pem")}


def test_tls_terminated_by_the_gateway_serves_and_forwards(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = TlsGateway(tmp_path, runtime.url, settings=tls_settings(tmp_path))
    try:
        seen = len(runtime.seen)
        body = json.dumps({**CHAT, "stream": False}).encode()
        answer = tls_exchange(gateway.port, tmp_path / "cert.pem",
                              request_bytes("POST", "/v1/chat/completions", auth(), body))
        assert answer.status == 200  # type: ignore[attr-defined]
        assert runtime.seen[seen].headers.get("X-Forwarded-Proto") == "https"
        with connect(gateway.port) as sock:  # plain HTTP on the TLS port is not served
            sock.sendall(request_bytes("GET", "/healthz"))
            assert b"HTTP/1.1 200" not in sock.recv(4096)
    finally:
        gateway.stop()


def test_tls_handshakes_count_against_the_connection_cap_and_end_at_the_head_deadline(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = TlsGateway(tmp_path, runtime.url, settings={**tls_settings(tmp_path), "max_connections": 8})
    silent: list[socket.socket] = []
    try:
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 0)
        silent += [connect(gateway.port, timeout=30) for _ in range(20)]  # TCP only: no ClientHello, ever
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 8)
        assert gateway.total("slm_gateway_rejections_total", reason="idle_connection_evicted") >= 12
        # A client that completes its handshake still gets in: a silent handshake makes room for it.
        answer = tls_exchange(gateway.port, tmp_path / "cert.pem", request_bytes("GET", "/healthz"))
        assert answer.status == 200  # type: ignore[attr-defined]
        assert all(Reader(sock).closed_by_peer(within=10) for sock in silent)  # header_timeout_seconds is 2
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 0)
    finally:
        for sock in silent:
            sock.close()
        gateway.stop()


def test_tls_connections_the_gateway_closed_make_room_while_their_close_notify_is_awaited(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = TlsGateway(tmp_path, runtime.url, settings={**tls_settings(tmp_path), "max_connections": 2})
    context = client_context(tmp_path / "cert.pem")
    quiet: list[ssl.SSLSocket] = []
    try:
        assert eventually(lambda: gateway.sample("slm_gateway_open_connections") == 0)
        for _ in range(2):  # a finished handshake, then nothing sent and nothing read: no close_notify either
            quiet.append(context.wrap_socket(socket.create_connection(("127.0.0.1", gateway.port), timeout=30)))
        # The head deadline (2 s) closes both; each waits for a close_notify that never comes, still counted.
        assert eventually(lambda: gateway.total("slm_gateway_rejections_total", reason="header_timeout") == 2)
        assert gateway.sample("slm_gateway_open_connections") == 2
        answer = tls_exchange(gateway.port, tmp_path / "cert.pem", request_bytes("GET", "/healthz"))
        assert answer.status == 200  # type: ignore[attr-defined]
        assert gateway.total("slm_gateway_rejections_total", reason="idle_connection_evicted") >= 1
    finally:
        for sock in quiet:
            sock.close()
        gateway.stop()


def pipeline_over_tls_without_reading(port: int, context: ssl.SSLContext, data: bytes, count: int) -> list[ssl.SSLSocket]:
    """`count` TLS clients that each send `data` as far as the gateway takes it and never read an answer."""
    clients, sent = [], [0] * count
    for _ in range(count):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", port))
        sock = context.wrap_socket(raw)
        sock.setblocking(False)
        clients.append(sock)
    quiet_rounds = 0
    while quiet_rounds < 20:  # until the gateway has taken nothing from anyone for a while
        progress = False
        for index, sock in enumerate(clients):
            if sent[index] < len(data):
                try:
                    sent[index] += sock.send(data[sent[index]:sent[index] + 16384])
                    progress = True
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
        quiet_rounds = 0 if progress else quiet_rounds + 1
        if not progress:
            time.sleep(0.05)
    return clients


def test_tls_clients_that_pipeline_and_never_read_hold_little_per_connection(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    gateway = TlsGateway(tmp_path, runtime.url, settings={**tls_settings(tmp_path), "send_timeout_seconds": 120.0})
    context = client_context(tmp_path / "cert.pem")
    tiny = b"GET /healthz HTTP/1.1\r\nHost:a\r\n\r\n" * 120_000  # 4 MB of the smallest requests, no key
    before = rss_kib(gateway.process.pid)
    clients: list[ssl.SSLSocket] = []
    try:
        clients = pipeline_over_tls_without_reading(gateway.port, context, tiny, 100)
        grown = rss_kib(gateway.process.pid) - before
    finally:
        for sock in clients:
            sock.close()
        gateway.stop()
    # Once parsing stops the socket is not read either: the TLS layer's own read buffer (256 KiB) and what it
    # decrypted ahead held about 1.1 MB a connection (113 MB here); now about 0.4 MB.
    assert grown < 75 * 1024, grown


def test_shutdown_lets_a_request_in_flight_finish_then_exits(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = GatewayProcess(tmp_path, runtime.url, settings={**TIMEOUTS, "shutdown_timeout_seconds": 20.0})
    try:
        arrived = runtime.arm("shutdown")
        busy = connect(gateway.port, timeout=30)
        busy.sendall(request_bytes("POST", "/api/generate", auth("carol"), b'{"stream":false,"hold":"shutdown"}'))
        idle = connect(gateway.port)
        idle.sendall(request_bytes("GET", "/healthz"))
        idle_reader = Reader(idle)
        assert idle_reader.response().status == 200
        assert arrived.wait(10)
        gateway.process.send_signal(signal.SIGTERM)
        assert idle_reader.closed_by_peer(within=5)  # an idle keep-alive connection is closed at once
        with pytest.raises(OSError):
            for _ in range(50):  # the listener stops accepting
                socket.create_connection(("127.0.0.1", gateway.port), timeout=1).close()
                time.sleep(0.1)
        assert gateway.process.poll() is None  # still draining the request in flight
        runtime.release("shutdown")
        busy_reader = Reader(busy)
        assert busy_reader.response().status == 200
        assert busy_reader.closed_by_peer(within=5)
        assert gateway.process.wait(10) == 0
        busy.close()
        idle.close()
    finally:
        gateway.stop()
