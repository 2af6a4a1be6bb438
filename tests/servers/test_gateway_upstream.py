"""The gateway's upstream client against a scripted runtime: framing edges, and a pool that never reuses a socket mid-response."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from slm_deploy.servers.gateway.upstream import (
    HIGH_WATER_BYTES, UpstreamConnectError, UpstreamError, UpstreamPool, UpstreamResponse,
)
from tests.servers.gateway_fixtures import GatewayProcess, bearer, eventually, free_port

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class ScriptedRuntime:
    """A loopback server that answers each request head with bytes a test writes; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> ScriptedRuntime:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
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
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            for n in (1, 2):
                response = await _get(pool)
                assert (response.status, response.headers["Content-Type"]) == (200, "text/event-stream")
                assert await _body(response) == b"data: %d\n\n" % n
                response.release()
            assert runtime.connections == 1
            assert runtime.requests[0].startswith(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:")
            pool.close()

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
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            response = await _get(pool)
            with pytest.raises(UpstreamError):
                await _body(response)
            response.close()
            again = await _get(pool)
            assert await _body(again) == b"ok"
            again.release()
            assert runtime.connections == 2
            pool.close()

    run(test)


def test_a_huge_chunk_is_relayed_whole_through_the_read_pause() -> None:
    payload = bytes(range(256)) * (4 * HIGH_WATER_BYTES // 256)

    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(CHUNKED_HEAD + b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            response = await _get(pool)
            await asyncio.sleep(0.2)  # let the runtime's bytes pile up past the high-water mark
            assert await _body(response) == payload
            response.release()
            pool.close()

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
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
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
            pool.close()

    run(test)


def test_a_response_that_arrives_after_release_is_not_read_by_a_pooled_connection() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        # Content-Length says 2 and the runtime sends 2 more bytes: a second, unasked-for response.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            response = await _get(pool)
            assert await _body(response) == b"ok"
            response.release()
            again = await _get(pool)
            assert await _body(again) == b"ok"
            again.release()
            assert runtime.connections == 2
            pool.close()

    run(test)


def test_interim_responses_are_skipped_and_head_answers_have_no_body() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
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
            pool.close()

    run(test)


def test_a_body_delimited_by_the_close_of_the_connection_ends_there() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            response = await _get(pool)
            assert await _body(response) == b"until the end"
            response.release()
            pool.close()

    run(test)


def test_a_runtime_that_goes_quiet_times_out_and_a_closed_port_is_a_connect_error() -> None:
    async def script(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(CHUNKED_HEAD)
        await asyncio.Event().wait()

    async def test() -> None:
        async with ScriptedRuntime(script) as runtime:
            pool = UpstreamPool(f"http://127.0.0.1:{runtime.port}")
            response = await pool.request("GET", "/", [], None, connect_timeout=5, read_timeout=0.05)
            with pytest.raises(TimeoutError):
                await response.read()
            response.close()
            pool.close()
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
