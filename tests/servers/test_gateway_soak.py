"""A bounded soak of the real gateway: mixed streaming load, clients that leave at random points,
slow and half-open connections, and key-file rewrites every few seconds.

It ends with nothing leaked (in-flight and queued gauges back to 0, no connection left open), no
5xx the runtime did not cause, no valid key ever refused, and the gateway's memory flat within
10% of what it used once warmed up. SLM_GATEWAY_SOAK_SECONDS sets the length (default 120).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.servers.gateway_fixtures import KEYS, GatewayProcess, eventually, free_port, key_file_text

SOAK_SECONDS = float(os.environ.get("SLM_GATEWAY_SOAK_SECONDS", "120"))
WORKERS = 16
WARM_UP_FRACTION = 0.25
CHUNKS = 20


@dataclass
class SoakRuntime:
    """A paced runtime: SSE and NDJSON streams, plain JSON, and 500s when a request asks for one."""

    port: int = field(default_factory=free_port)
    failures_sent: int = 0

    def __post_init__(self) -> None:
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("fail"):
            self.failures_sent += 1
            return web.json_response({"error": "runtime failure"}, status=500)
        ndjson = request.path.startswith("/api/")
        if not body.get("stream", ndjson):
            await asyncio.sleep(0.02)
            return web.json_response({"choices": [{"message": {"content": "ok"}}],
                                      "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson" if ndjson else "text/event-stream"})
        await response.prepare(request)
        for index in range(CHUNKS):
            await asyncio.sleep(0.005)
            chunk = {"index": index, "delta": "tok"}
            await response.write((json.dumps(chunk) + "\n").encode() if ndjson else f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b'{"done":true,"eval_count":20}\n' if ndjson else b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/api/chat", self._chat)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    failures_asked: int = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return status, body
            body += (await reader.readexactly(size + 2))[:-2]
    return status, await reader.readexactly(int(headers.get("content-length", "0")))


def _request(key_id: str, path: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {KEYS[key_id]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


class Client:
    """One simulated client: a loop of randomly chosen behaviours until the deadline."""

    def __init__(self, port: int, seed: int, deadline: float, tally: Tally) -> None:
        self.port, self.random, self.deadline, self.tally = port, random.Random(seed), deadline, tally

    async def run(self) -> None:
        behaviours = [self.complete] * 6 + [self.leave_early] * 3 + [self.slow] + [self.half_open] + [self.failing]
        while time.monotonic() < self.deadline:
            try:
                await self.random.choice(behaviours)()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.tally.problems.append(f"connection failed: {type(exc).__name__}")

    def _body(self) -> tuple[str, dict[str, object]]:
        path = self.random.choice(["/v1/chat/completions", "/api/chat"])
        return path, {"model": "tiny", "messages": [{"role": "user", "content": "hi"}],
                      "stream": self.random.random() < 0.7}

    async def complete(self) -> None:
        """A whole request, on a keep-alive connection, read to the end."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for _ in range(self.random.randint(1, 3)):
                path, body = self._body()
                writer.write(_request(self.random.choice(list(KEYS)), path, body))
                status, data = await _read_response(reader)
                self.tally.statuses[str(status)] += 1
                if status >= 500 or status == 401:
                    self.tally.problems.append(f"{status} for a valid request: {data[:200]!r}")
        finally:
            writer.close()

    async def leave_early(self) -> None:
        """Go away mid-head, mid-body, before the answer or mid-stream."""
        path, body = self._body()
        data = _request(self.random.choice(list(KEYS)), path, {**body, "stream": True})
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        cut = self.random.choice(["head", "body", "answer", "stream"])
        if cut == "head":
            writer.write(data[: self.random.randint(1, data.index(b"\r\n\r\n"))])
        elif cut == "body":
            writer.write(data[: len(data) - self.random.randint(1, 20)])
        else:
            writer.write(data)
        await writer.drain()
        if cut == "stream":
            await reader.readuntil(b"\r\n\r\n")
            await reader.read(self.random.randint(1, 400))
        await asyncio.sleep(self.random.random() * 0.05)
        if self.random.random() < 0.5:
            writer.transport.abort()  # a reset instead of a clean close
        else:
            writer.close()

    async def slow(self) -> None:
        """Send the head in pieces and read the stream in small sips, within every deadline."""
        path, body = self._body()
        data = _request(self.random.choice(list(KEYS)), path, {**body, "stream": True})
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for start in range(0, len(data), 40):
                writer.write(data[start : start + 40])
                await writer.drain()
                await asyncio.sleep(0.02)
            status, _ = await _read_response(reader)
            self.tally.statuses[str(status)] += 1
            if status >= 500 or status == 401:
                self.tally.problems.append(f"{status} for a slow but valid client")
        finally:
            writer.close()

    async def half_open(self) -> None:
        """Start a request head and go silent without closing: the gateway must close it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), timeout=10)
        if closed:
            self.tally.problems.append("the gateway answered a request head that never finished")
        writer.close()

    async def failing(self) -> None:
        """Ask the runtime for a 500: the one kind of 5xx a client may see."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(_request("bob", "/v1/chat/completions", {"model": "tiny", "fail": True}))
            self.tally.failures_asked += 1
            status, data = await _read_response(reader)
            self.tally.statuses[f"{status} (asked)"] += 1
            if status != 500 or json.loads(data)["error"]["code"] != "upstream_error":
                self.tally.problems.append(f"asked for a runtime failure, got {status}")
        finally:
            writer.close()


def _server_errors(gateway: GatewayProcess) -> float:
    """Every 5xx the gateway answered, whatever the route or key."""
    return sum(
        sample.value for family in text_string_to_metric_families(gateway.metrics_text()) for sample in family.samples
        if sample.name == "slm_gateway_requests_total" and sample.labels["status"].startswith("5")
    )


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _rewrite_keys(gateway: GatewayProcess, stop: threading.Event) -> None:
    """Every few seconds, a new key file: by atomic rename or rewritten in place, with an extra key or without."""
    versions = [KEYS, {**KEYS, "temp": "sk-temporary-key-" + "t" * 24}]
    index = 0
    while not stop.wait(3.0):
        text = key_file_text(versions[index % 2])
        if index % 2:
            with open(gateway.key_file, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            gateway.write_keys(versions[index % 2])
        index += 1


@pytest.fixture
def runtime() -> Iterator[SoakRuntime]:
    fake = SoakRuntime()
    yield fake
    fake.close()


def test_gateway_soak(tmp_path: Path, runtime: SoakRuntime) -> None:
    settings = {"max_concurrency": 6, "max_queue": 4, "queue_timeout_seconds": 5.0, "header_timeout_seconds": 2.0,
                "idle_timeout_seconds": 5.0, "body_timeout_seconds": 5.0, "send_timeout_seconds": 10.0,
                "key_reload_interval_seconds": 0.5}
    gateway = GatewayProcess(tmp_path, runtime.url, settings=settings)
    stop = threading.Event()
    rewriter = threading.Thread(target=_rewrite_keys, args=(gateway, stop))
    rewriter.start()
    tally = Tally()
    try:
        started = time.monotonic()
        deadline = started + SOAK_SECONDS
        samples: list[int] = []

        async def load() -> None:
            clients = [Client(gateway.port, seed, deadline, tally).run() for seed in range(WORKERS)]
            tasks = [asyncio.ensure_future(c) for c in clients]
            await asyncio.sleep(SOAK_SECONDS * WARM_UP_FRACTION)
            samples.append(_rss_kib(gateway.process.pid))
            await asyncio.gather(*tasks)

        asyncio.run(load())
        stop.set()
        rewriter.join(10)
        assert eventually(lambda: gateway.total("slm_gateway_in_flight_requests") == 0
                          and gateway.total("slm_gateway_queued_requests") == 0
                          and gateway.sample("slm_gateway_open_connections") == 0, timeout=30)
        warm, final = samples[0], _rss_kib(gateway.process.pid)
        served = sum(v for k, v in tally.statuses.items() if k.startswith("200"))
        report = f"statuses {dict(tally.statuses)}, rss {warm} -> {final} KiB, problems {tally.problems[:5]}"
        assert served > SOAK_SECONDS * 10, report  # the load was real
        assert not tally.problems, report
        assert tally.statuses["500 (asked)"] == tally.failures_asked == runtime.failures_sent, report
        assert _server_errors(gateway) == runtime.failures_sent, report
        assert gateway.total("slm_gateway_rejections_total", reason="header_timeout") > 0, report  # half-open closed
        assert final <= warm * 1.10, report
        print(report)
    finally:
        stop.set()
        rewriter.join(10)
        gateway.stop()
