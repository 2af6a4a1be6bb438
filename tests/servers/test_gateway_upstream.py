"""The gateway's upstream client against a scripted runtime: framing edges, and a pool that never reuses a socket mid-response."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from slm_deploy.servers.gateway.config import GatewayConfig, config_to_toml
from slm_deploy.servers.gateway.keys import KeyFileError, parse_upstream_key
from slm_deploy.servers.gateway.server import MAX_HEAD_BYTES
from slm_deploy.servers.gateway.upstream import (
    HIGH_WATER_BYTES, MAX_HEAD_FIELDS, UnsafeRequestHead, UpstreamConnectError, UpstreamError, UpstreamPool,
    UpstreamProtocolError, UpstreamResponse,
)
from tests.servers.gateway_fixtures import KEYS, GatewayProcess, bearer, eventually, free_port, key_file_text

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class ScriptedRuntime:
    """A loopback server that answers each request head with bytes a test writes; counts connections. `pool` is
    the gateway's upstream pool to it, closed when the runtime is."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> ScriptedRuntime:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.pool = UpstreamPool(f"http://127.0.0.1:{self.port}")
        return self

    async def __aexit__(self, *_: object) -> None:
        self.pool.close()
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")  # the tests send GET and HEAD only: no request bodies
                self.requests.append(head)
                await self.script(reader, writer, len(self.requests))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _get(pool: UpstreamPool, path: str = "/v1/models", method: str = "GET") -> UpstreamResponse:
    return await pool.request(method, path, [("Accept", "*/*")], None, connect_timeout=5, read_timeout=5)


async def _body(response: UpstreamResponse) -> bytes:
    parts = []
    while chunk := await response.read():
        parts.append(chunk)
    return b"".join(parts)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def test_a_chunked_body_arrives_whole_without_its_trailers_and_the_connection_is_reused() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(CHUNKED_HEAD + b"6\r\ndata: \r\n3\r\n%d\n\n\r\n0\r\nX-Trailer: secret\r\n\r\n" % n)

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            for n in (1, 2):
                response = await _get(pool)
                assert (response.status, response.headers["Content-Type"]) == (200, "text/event-stream")
                assert await _body(response) == b"data: %d\n\n" % n
                response.release()
            assert runtime.connections == 1
            assert runtime.requests[0].startswith(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:")

    run(test)


@pytest.mark.parametrize("broken", [
    pytest.param(b"a\r\ndata: 1", id="closed-mid-chunk"),
    pytest.param(b"zz\r\ndata: 1\n\r\n", id="malformed-chunk-size"),
    pytest.param(b"3\r\nabcdef\r\n", id="chunk-longer-than-its-size"),
])
def test_a_broken_chunked_body_is_an_error_and_the_connection_is_not_pooled(broken: bytes) -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            writer.write(CHUNKED_HEAD + broken)
            await writer.drain()
            writer.close()
        else:
            writer.write(CHUNKED_HEAD + b"2\r\nok\r\n0\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool)
            with pytest.raises(UpstreamError):
                await _body(response)
            response.close()
            again = await _get(pool)
            assert await _body(again) == b"ok"
            again.release()
            assert runtime.connections == 2

    run(test)


def test_a_huge_chunk_is_relayed_whole_through_the_read_pause() -> None:
    payload = bytes(range(256)) * (4 * HIGH_WATER_BYTES // 256)

    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(CHUNKED_HEAD + b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool)
            await asyncio.sleep(0.2)  # let the runtime's bytes pile up past the high-water mark
            assert await _body(response) == payload
            response.release()

    run(test)


def test_a_cancelled_request_never_leaves_its_response_to_the_next_one() -> None:
    release = asyncio.Event()

    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(CHUNKED_HEAD + b"7\r\nfirst-%d\r\n" % n)
        await writer.drain()
        if n == 1:
            await release.wait()  # the rest of the first response comes after its client has gone
        writer.write(b"0\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            first = await _get(pool)
            assert await first.read() == b"first-1"
            reader = asyncio.ensure_future(first.read())
            await asyncio.sleep(0)
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
            first.close()
            release.set()
            second = await _get(pool)
            assert await _body(second) == b"first-2"
            second.release()
            assert runtime.connections == 2

    run(test)


def test_a_response_that_arrives_after_release_is_not_read_by_a_pooled_connection() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        # Content-Length says 2 and the runtime sends 2 more bytes: a second, unasked-for response.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool)
            assert await _body(response) == b"ok"
            response.release()
            again = await _get(pool)
            assert await _body(again) == b"ok"
            again.release()
            assert runtime.connections == 2

    run(test)


def test_interim_responses_are_skipped_and_head_answers_have_no_body() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool)
            assert (response.status, "Link" in response.headers) == (200, False)
            assert await _body(response) == b"hello"
            response.release()
            head = await _get(pool, method="HEAD")
            assert (head.status, head.headers["Content-Length"], await head.read()) == (200, "10", b"")
            head.release()
            assert runtime.connections == 1
            again = await _get(pool)
            again.close()
            assert runtime.connections == 2  # the socket that answered HEAD was not reused

    run(test)


def test_a_body_delimited_by_the_close_of_the_connection_ends_there() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool)
            assert await _body(response) == b"until the end"
            response.release()

    run(test)


def test_a_runtime_that_goes_quiet_times_out_and_a_closed_port_is_a_connect_error() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(CHUNKED_HEAD)
        await asyncio.Event().wait()

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await pool.request("GET", "/", [], None, connect_timeout=5, read_timeout=0.05)
            with pytest.raises(TimeoutError):
                await response.read()
            response.close()
        with pytest.raises(UpstreamConnectError):
            await UpstreamPool(f"http://127.0.0.1:{free_port()}").request("GET", "/", [], None, 5, 5)

    run(test)


BROKEN_STREAMS = {
    "/v1/chat/completions": CHUNKED_HEAD + b"e\r\ndata: {\"a\":1}\n\r\n20\r\ndata: cut",  # closes mid-chunk
    "/v1/completions": CHUNKED_HEAD + b"e\r\ndata: {\"a\":1}\n\r\nzz\r\n",  # a chunk size that is not hex
}


@pytest.fixture
def broken_runtime() -> Iterator[int]:
    """A runtime in a thread that starts a stream, then breaks it as BROKEN_STREAMS says for the path."""
    ready, port = threading.Event(), free_port()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(BROKEN_STREAMS[head.split(b" ")[1].decode()])
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    assert ready.wait(10)
    yield port


@pytest.mark.parametrize("path", sorted(BROKEN_STREAMS))
def test_a_runtime_that_breaks_its_stream_gives_the_client_a_truncated_response(
    tmp_path: Path, broken_runtime: int, path: str
) -> None:
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{broken_runtime}", settings={"route_table": "vllm", "exempt_paths": ("/health",)})
    try:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):  # never a clean end the client would take as the whole answer
            with httpx.stream("POST", f"{gateway.url}{path}", json=body, headers=bearer("alice"), timeout=20) as response:
                assert response.status_code == 200
                for part in response.iter_bytes():
                    received += part
        assert received in (b"", b'data: {"a":1}\n')
        assert eventually(lambda: gateway.sample("slm_gateway_upstream_errors_total", reason="stream_broken") == 1)
    finally:
        gateway.stop()


def _content_length(head: bytes) -> int:
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("answer", [
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 46\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected", id="head-with-a-body"),
    pytest.param(b"HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\ninjected", id="204-with-a-body"),
    pytest.param(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\ninjected", id="304-with-a-body"),
    pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\ninjected", id="101-then-bytes"),
])
def test_bytes_after_an_answer_that_has_no_body_are_never_read_and_the_socket_is_dropped(answer: bytes) -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(answer if n == 1 else b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nown")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            response = await _get(pool, method="HEAD" if answer.startswith(b"HTTP/1.1 200") else "GET")
            assert await _body(response) == b""
            response.release()
            again = await _get(pool)
            assert await _body(again) == b"own"
            again.release()
            assert runtime.connections == 2

    run(test)


def test_an_answer_before_the_body_is_sent_ends_the_upload_and_the_socket_is_not_reused() -> None:
    body = b"x" * (16 << 20)  # far more than the socket buffers hold: most of it is unsent when the answer comes

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:  # answers at once and never reads the body
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.Event().wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            first = await pool.request("POST", "/api/chat", [], body, connect_timeout=5, read_timeout=5)
            assert await _body(first) == b"ok"
            first.release()
            second = await _get(pool)
            assert await _body(second) == b"next"
            second.release()
            assert runtime.connections == 2

    run(test)


def test_a_large_body_the_runtime_reads_is_sent_whole_and_the_socket_is_reused() -> None:
    body = bytes(range(256)) * (3 << 12)  # 3 MiB, written piece by piece as the runtime reads
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        received.append(await reader.readexactly(_content_length(runtime.requests[-1])))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async def test() -> None:
        nonlocal runtime
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            for _ in range(2):
                response = await pool.request("POST", "/api/chat", [], body, connect_timeout=5, read_timeout=5)
                assert await _body(response) == b"ok"
                response.release()
            assert received == [body, body]
            assert runtime.connections == 1

    runtime: ScriptedRuntime
    run(test)


def _endless_head(lines: int, size: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (n, b"b" * size) for n in range(lines))


@pytest.mark.parametrize("answer", [
    pytest.param(_endless_head(MAX_HEAD_FIELDS + 1, 8) + b"\r\n", id="too-many-fields"),
    pytest.param(_endless_head(MAX_HEAD_BYTES // 4096 + 1, 4096) + b"\r\n", id="too-many-bytes"),
    pytest.param(_endless_head(MAX_HEAD_BYTES // 4096 + 1, 4096), id="never-ending-head"),
    pytest.param(b"HTTP/1.1 200 OK\r\nX-Long: " + b"b" * (2 * MAX_HEAD_BYTES), id="never-ending-line"),
    pytest.param(b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nhi", id="status-99"),
    pytest.param(b"HTTP/1.1 000 Odd\r\nContent-Length: 2\r\n\r\nhi", id="status-0"),
    pytest.param(b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nhi", id="status-600"),
    pytest.param(b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nhi", id="status-999"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", id="duplicate-length"),
    pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="not-http"),
])
def test_a_response_head_the_gateway_may_not_relay_is_a_protocol_error(answer: bytes) -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(answer)
        await asyncio.Event().wait()  # the socket stays open: only the gateway's own limit ends the wait

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            with pytest.raises(UpstreamProtocolError):
                await pool.request("GET", "/", [], None, connect_timeout=5, read_timeout=60)

    run(test)


@pytest.mark.parametrize("value", ["k\r\nX-Injected: yes", "k\nTransfer-Encoding: chunked", "k\rx", "k\0"])
def test_a_value_that_could_split_the_request_head_is_refused_before_anything_is_sent(value: str) -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = runtime.pool
            with pytest.raises(UnsafeRequestHead):
                await pool.request("GET", "/", [("Authorization", f"Bearer {value}")], None, 5, 5)
            assert runtime.connections == 0

    run(test)


@pytest.mark.parametrize(("text", "line"), [
    ("sk-SECRET\nX-Injected: yes\r\nTransfer-Encoding: chunked\n", "line 2"),
    ("sk-SE CRET\n", "line 1"),
    ("\n\nsk-SE\x0bCRET\n", "line 3"),
    ("sk-SECRET\rX-Injected: yes\n", "line 1"),
    ("sk-SECRÉT\n", "line 1"),
    ("\n  \n", "no key"),
])
def test_an_upstream_key_that_is_not_one_visible_token_is_refused_naming_only_the_line(text: str, line: str) -> None:
    with pytest.raises(KeyFileError, match=line) as refused:
        parse_upstream_key(text.encode())
    assert not {"SE", "CRET", "Injected"} & set(re.findall(r"[A-Za-z]+", str(refused.value)))


def test_an_upstream_key_on_one_line_loads_trimmed() -> None:
    assert parse_upstream_key(b"  sk-up:stream/+=~\r\n\n") == "sk-up:stream/+=~"


def test_gateway_check_refuses_an_upstream_key_file_with_a_second_line(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text(key_file_text(KEYS))
    (tmp_path / "upstream-key").write_text("sk-UPSTREAM-SECRET\nX-Injected: yes\r\n")
    config = GatewayConfig(upstream_url="http://127.0.0.1:1", key_file=str(tmp_path / "keys"), route_table="ollama",
                           upstream_key_file=str(tmp_path / "upstream-key"))
    (tmp_path / "gateway.toml").write_text(config_to_toml(config))
    result = subprocess.run(
        [sys.executable, "-m", "slm_deploy.servers.gateway", "--config", str(tmp_path / "gateway.toml"), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "upstream key file line 2" in result.stderr and "Traceback" not in result.stderr
    assert "UPSTREAM-SECRET" not in result.stdout + result.stderr and "Injected" not in result.stdout + result.stderr


INJECTED = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"injected":"CANARY-7777"}'
HOSTILE_ANSWERS = {  # X-Case -> what the runtime answers
    "head-with-a-body": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(INJECTED)
    + INJECTED,
    "own": b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"own":1}',
    "status-600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nhi",
    "too-many-fields": _endless_head(MAX_HEAD_FIELDS + 1, 8) + b"\r\n",
    "length-and-chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "obs-fold": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n folded\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.fixture
def hostile_runtime() -> Iterator[int]:
    """A keep-alive runtime in a thread that answers each request as its X-Case header says (HOSTILE_ANSWERS)."""
    ready, port = threading.Event(), free_port()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
                case = re.search(rb"(?im)^x-case:\s*(\S+)", head)
                writer.write(HOSTILE_ANSWERS[case.group(1).decode() if case else "own"])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    assert ready.wait(10)
    yield port


def test_a_runtime_body_to_a_head_never_reaches_the_client_as_the_next_answer(tmp_path: Path, hostile_runtime: int) -> None:
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{hostile_runtime}")
    auth = f"Authorization: Bearer {KEYS['alice']}\r\n"
    try:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as client:
            client.sendall(f"HEAD /api/tags HTTP/1.1\r\nHost: gw\r\n{auth}X-Case: head-with-a-body\r\n\r\n".encode())
            received = b""
            while b"\r\n\r\n" not in received:
                received += client.recv(65536)
            client.sendall(f"GET /api/tags HTTP/1.1\r\nHost: gw\r\n{auth}Connection: close\r\n\r\n".encode())
            while chunk := client.recv(65536):
                received += chunk
        assert b"CANARY" not in received
        assert received.count(b"HTTP/1.1 200 OK") == 2 and received.endswith(b'{"own":1}')
    finally:
        gateway.stop()


def test_protocol_violations_by_the_runtime_are_a_502_counted_as_protocol(tmp_path: Path, hostile_runtime: int) -> None:
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{hostile_runtime}")
    cases = ["status-600", "too-many-fields", "length-and-chunked", "obs-fold"]
    try:
        for case in cases:
            response = httpx.get(f"{gateway.url}/api/tags", headers={**bearer("alice"), "X-Case": case}, timeout=20)
            assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_error"), case
        assert gateway.sample("slm_gateway_upstream_errors_total", reason="protocol") == len(cases)
        assert gateway.total("slm_gateway_upstream_errors_total", reason="connect") == 0
        assert httpx.get(f"{gateway.url}/api/tags", headers=bearer("alice"), timeout=20).json() == {"own": 1}
    finally:
        gateway.stop()
