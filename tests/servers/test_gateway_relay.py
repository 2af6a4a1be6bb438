"""How the runtime's answer reaches the client on the wire: framing per client version, lengths, stalls, the usage chunk."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from slm_deploy.servers.gateway.metrics import OWN_STATUS_LABELS
from tests.servers.gateway_fixtures import GatewayProcess, KEYS, eventually, free_port
from tests.servers.raw_http import Reader, connect, request_bytes

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
STALL_TOTAL_BYTES = 64 << 20  # well beyond what socket buffers on both sides and the gateway's own can hold
STALL_LINE = b"data: " + b"x" * 65000 + b"\n\n"

Answer = Callable[[asyncio.StreamWriter, dict], Awaitable[None]]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class ScriptedRuntime:
    """A runtime in a thread that reads each request and answers with the bytes the test scripted for its path."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.port = free_port()
        self.sent = 0
        self.finished = threading.Event()
        ready = threading.Event()

        async def main() -> None:
            server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
            ready.set()
            async with server:
                await server.serve_forever()

        threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
        assert ready.wait(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = json.loads(await reader.readexactly(length)) if length else {}
                await self.answers[head.split(b" ")[1].decode()](writer, body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _stream_with_usage_split_across_chunks(runtime: ScriptedRuntime) -> Answer:
    async def answer(writer: asyncio.StreamWriter, body: dict) -> None:
        event = {"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": None}
        usage_event = b"data: " + json.dumps({"choices": [], "usage": USAGE}).encode() + b"\n\n"
        middle = len(usage_event) // 2
        asked = (body.get("stream_options") or {}).get("include_usage")
        writer.write(SSE_HEAD + _chunk(b"data: " + json.dumps(event).encode() + b"\n\n"))
        if asked:
            writer.write(_chunk(usage_event[:middle]) + _chunk(usage_event[middle:]))
        writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return answer


async def _with_extensions_and_trailers(writer: asyncio.StreamWriter, _body: dict) -> None:
    writer.write(SSE_HEAD + b"e;note=internal\r\ndata: {\"a\":1}\n\r\n" + b"0\r\nX-Runtime-Secret: s3cr3t\r\n\r\n")


async def _json_with_length(writer: asyncio.StreamWriter, _body: dict) -> None:
    payload = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                 % (len(payload), payload))


async def _status_asked_for(writer: asyncio.StreamWriter, body: dict) -> None:
    writer.write(b"HTTP/1.1 %d Any\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" % body["status"])


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[tuple[ScriptedRuntime, GatewayProcess]]:
    runtime = ScriptedRuntime({})

    async def flood(writer: asyncio.StreamWriter, _body: dict) -> None:
        writer.write(SSE_HEAD)
        while runtime.sent < STALL_TOTAL_BYTES:
            writer.write(_chunk(STALL_LINE))
            runtime.sent += len(STALL_LINE)
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        runtime.finished.set()

    runtime.answers.update({
        "/v1/embeddings": _status_asked_for,
        "/v1/chat/completions": _stream_with_usage_split_across_chunks(runtime),
        "/v1/completions": flood,
        "/v1/models": _json_with_length,
        "/tokenize": _with_extensions_and_trailers,
    })
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{runtime.port}", settings={
        "route_table": "vllm", "exempt_paths": ("/health",), "send_timeout_seconds": 120.0})
    try:
        yield runtime, gateway
    finally:
        gateway.stop()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS['alice']}", "Content-Type": "application/json"}


def _read_until_closed(sock: socket.socket) -> bytes:
    received = bytearray()
    while part := sock.recv(1 << 20):
        received += part
    return bytes(received)


def _dechunk(data: bytes) -> tuple[list[bytes], bytes]:
    """The chunks of a chunked body (the last, empty one excluded) and what follows it; fails on bad framing."""
    chunks, at = [], 0
    while True:
        line_end = data.index(b"\r\n", at)
        size = int(data[at:line_end], 16)  # no extensions: the gateway frames its own chunks
        at = line_end + 2
        if size == 0:
            assert data[at:at + 2] == b"\r\n", "trailers or garbage after the last chunk"
            return chunks, data[at + 2:]
        assert data[at + size:at + size + 2] == b"\r\n"
        chunks.append(data[at:at + size])
        at += size + 2


def test_an_http10_client_gets_the_stream_unframed_and_its_end_from_the_close(scripted) -> None:
    _, gateway = scripted
    body = json.dumps({"model": "m", "stream": True, "messages": []}).encode()
    with connect(gateway.port, 20) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", _auth(), body).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        received = _read_until_closed(sock)
    head, _, content = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 ")
    assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower()
    assert content.split(b"\n\n")[-2:] == [b"data: [DONE]", b""] and b"\"usage\"" not in content


def test_a_runtime_length_reaches_the_client_and_the_connection_carries_the_next_request(scripted) -> None:
    _, gateway = scripted
    with connect(gateway.port, 20) as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(request_bytes("GET", "/v1/models", _auth()))
            response = reader.response()
            assert response.status == 200 and response.header("Transfer-Encoding") is None
            assert response.header("Content-Length") == str(len(response.body))
            assert json.loads(response.body)["data"] == [{"id": "m"}]


def test_the_usage_chunk_the_gateway_asked_for_leaves_a_well_framed_stream_without_it(scripted) -> None:
    _, gateway = scripted
    before = gateway.sample("slm_gateway_output_tokens_total", route="/v1/chat/completions", key_id="alice")
    body = json.dumps({"model": "m", "stream": True, "messages": []}).encode()
    with connect(gateway.port, 20) as sock:
        sock.sendall(request_bytes("POST", "/v1/chat/completions", {**_auth(), "Connection": "close"}, body))
        received = _read_until_closed(sock)
    head, _, content = received.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks, after = _dechunk(content)
    assert all(chunks) and after == b""  # never an empty chunk, which would end the body early
    events = b"".join(chunks).split(b"\n\n")
    assert events[-2:] == [b"data: [DONE]", b""] and b"usage" not in b"".join(chunks)
    assert gateway.sample("slm_gateway_output_tokens_total", route="/v1/chat/completions",
                          key_id="alice") == before + USAGE["completion_tokens"]


def test_chunk_extensions_and_trailers_of_the_runtime_never_reach_the_client(scripted) -> None:
    _, gateway = scripted
    body = json.dumps({"model": "m", "prompt": "x"}).encode()
    with connect(gateway.port, 20) as sock:
        sock.sendall(request_bytes("POST", "/tokenize", {**_auth(), "Connection": "close"}, body))
        received = _read_until_closed(sock)
    _, _, content = received.partition(b"\r\n\r\n")
    chunks, after = _dechunk(content)
    assert b"".join(chunks) == b'data: {"a":1}\n' and after == b""
    assert b"note" not in received and b"s3cr3t" not in received


def test_a_stalled_client_holds_the_runtime_back_and_then_gets_every_byte(scripted) -> None:
    runtime, gateway = scripted
    body = json.dumps({"model": "m", "prompt": "x", "stream": True}).encode()
    sock = connect(gateway.port, 60)
    try:
        sock.sendall(request_bytes("POST", "/v1/completions", {**_auth(), "Connection": "close"}, body))

        def runtime_stalled() -> bool:
            sent = runtime.sent
            time.sleep(0.5)
            return runtime.sent == sent

        assert eventually(runtime_stalled, timeout=30)
        assert not runtime.finished.is_set()  # the gateway stopped reading: the rest waits in the runtime
        head, _, content = _read_until_closed(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    chunks, after = _dechunk(content)
    streamed = b"".join(chunks)
    assert head.startswith(b"HTTP/1.1 200 ") and after == b""
    assert len(streamed) == runtime.sent and streamed == STALL_LINE * (runtime.sent // len(STALL_LINE))


def test_a_runtime_cycling_statuses_cannot_add_request_series(scripted: tuple[ScriptedRuntime, GatewayProcess]) -> None:
    """Every status reaches the client, but the `status` label takes a fixed set of codes or a status class."""
    _, gateway = scripted
    statuses = [s for s in (*range(200, 300), *range(400, 500)) if s not in (204, 205, 407)]
    with connect(gateway.port) as sock:
        reader = Reader(sock)
        for status in statuses:
            sock.sendall(request_bytes("POST", "/v1/embeddings", _auth(), json.dumps({"status": status}).encode()))
            assert reader.response().status == status
    labels = {line.split('status="')[1].split('"')[0] for line in gateway.metrics_text().splitlines()
              if line.startswith('slm_gateway_requests_total{') and 'route="/v1/embeddings"' in line}
    assert {"200", "404", "422", "2xx", "4xx"} <= labels
    assert len(labels) <= len(OWN_STATUS_LABELS) + len(("2xx", "4xx", "5xx"))
    assert gateway.total("slm_gateway_requests_total", route="/v1/embeddings") == len(statuses)
