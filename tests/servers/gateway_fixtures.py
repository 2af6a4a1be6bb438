"""Fake OpenAI-style and Ollama-style runtimes, and a real gateway process, for the gateway tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from slm_deploy.servers.gateway.config import GatewayConfig, config_to_toml

USAGE_OPENAI = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
OLLAMA_PROMPT_EVAL_COUNT = 13
OLLAMA_EVAL_COUNT = 21
# Anthropic Messages and OpenAI Responses report input_tokens/output_tokens (Messages: output in message_delta).
MESSAGES_INPUT_TOKENS = 17
MESSAGES_OUTPUT_TOKENS = 9
RESPONSES_USAGE = {"input_tokens": 19, "output_tokens": 6, "total_tokens": 25,
                   "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
STREAM_WORDS = ("Small", " models", " serve", " well", ".")

KEYS = {
    "alice": "sk-alice-0123456789abcdef0123456789abcdef",
    "bob": "sk-bob-fedcba9876543210fedcba9876543210",
    "carol": "sk-carol-55555555aaaaaaaa55555555aaaaaaaa",
}


def auth(key_id: str = "alice") -> dict[str, str]:
    """Headers of a JSON request made with that test key."""
    return {"Authorization": f"Bearer {KEYS[key_id]}", "Content-Type": "application/json"}


def error_code(response) -> str:  # noqa: ANN001 - raw_http.RawResponse
    """The code of the gateway's JSON error answer, after checking the answer has the OpenAI error shape."""
    assert response.header("Content-Type") == "application/json", response.raw
    error = json.loads(response.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return str(error["code"])


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def key_file_text(keys: dict[str, str]) -> str:
    """The key file format the gateway reads: `key_id:key` lines."""
    return "# id:key\n" + "".join(f"{key_id}:{key}\n" for key_id, key in keys.items())


@dataclass
class SeenRequest:
    """What the fake runtime received."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeRuntime:
    """An aiohttp server in a background thread that speaks just enough OpenAI and Ollama."""

    port: int = 0
    seen: list[SeenRequest] = field(default_factory=list)
    raw_paths: list[str] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    disconnects: int = 0
    cancelled: int = 0

    def __post_init__(self) -> None:
        self.port = free_port()
        self._ready = threading.Event()
        self._gates: dict[str, asyncio.Event] = {}
        self.arrived: dict[str, threading.Event] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake runtime did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test control -------------------------------------------------------------------------

    def arm(self, name: str) -> threading.Event:
        """Make requests carrying `"hold": name` wait at their hold point until `release(name)`."""
        assert self.loop is not None
        self.arrived[name] = threading.Event()
        done = threading.Event()

        def create() -> None:
            self._gates[name] = asyncio.Event()
            done.set()

        self.loop.call_soon_threadsafe(create)
        done.wait(5)
        return self.arrived[name]

    def release(self, name: str) -> None:
        """Let held requests continue."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._gates[name].set)

    async def _hold(self, body: dict[str, Any]) -> None:
        name = body.get("hold")
        if name:
            self.arrived[name].set()
            await self._gates[name].wait()

    # -- server -------------------------------------------------------------------------------

    @web.middleware
    async def _observe(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Record every request target as it arrived, and notice when the gateway gives up on one."""
        self.raw_paths.append(request.raw_path)
        try:
            return await handler(request)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        app = web.Application(middlewares=[self._observe])
        app.router.add_get("/", self._health)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._internal_metrics)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._chat)
        app.router.add_post("/api/chat", self._ollama)
        app.router.add_post("/api/generate", self._ollama)
        app.router.add_post("/api/pull", self._health)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/api/embeddings", self._large_json)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._leaky_headers)
        app.router.add_post("/api/embed", self._internal_error)
        app.router.add_post("/api/show", self._internal_redirect)
        app.router.add_get("/api/tags", self._proxy_auth_challenge)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self.loop.run_forever()

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _internal_metrics(self, _request: web.Request) -> web.Response:
        return web.Response(text="runtime_internal_metric 1\n")

    async def _record(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.seen.append(SeenRequest(request.raw_path, dict(request.headers), body))
        return body

    async def _leaky_headers(self, request: web.Request) -> web.Response:
        """Answers with headers that describe the runtime, and echoes the headers it received."""
        await self._record(request)
        return web.json_response(
            {"object": "list", "data": [], "received": dict(request.headers)},
            headers={"Server": "internal-runtime/9.9", "Set-Cookie": "session=internal", "X-Internal-Host": "10.0.0.5",
                     "X-Request-Id": "req-1", "Cache-Control": "no-store", "Connection": "X-Request-Id"},
        )

    async def _internal_error(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"error": "panic: open /srv/internal/models/blob-7: permission denied"}, status=500,
                                 headers={"Retry-After": "3"})

    async def _internal_redirect(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=307, headers={"Location": "http://10.0.0.5:11434/api/pull"})

    async def _proxy_auth_challenge(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"error": "proxy auth for 10.0.0.5"}, status=407,
                                 headers={"Proxy-Authenticate": 'Basic realm="internal"'})

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"object": "list", "data": [{"id": "tiny", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if not body.get("stream"):
            await self._hold(body)
            return web.json_response(
                {"id": "c1", "object": "chat.completion", "model": "tiny",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(STREAM_WORDS)}}],
                 "usage": USAGE_OPENAI}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            if body.get("hold_before_first"):
                await self._hold(body)
            options = body.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
            # vLLM 0.26.0 (should_include_usage): per-chunk usage only when include_usage is on as well.
            continuous = include_usage and bool(options.get("continuous_usage_stats"))
            for index, word in enumerate(STREAM_WORDS):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "tiny",
                         "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                if continuous:
                    chunk["usage"] = {"prompt_tokens": USAGE_OPENAI["prompt_tokens"], "completion_tokens": index,
                                      "total_tokens": USAGE_OPENAI["prompt_tokens"] + index}
                elif include_usage:
                    chunk["usage"] = None  # as vLLM marks every chunk once usage is asked for
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
                if index == 0 and not body.get("hold_before_first"):
                    await self._hold(body)
            if include_usage:
                final = {"id": "c1", "object": "chat.completion.chunk", "model": "tiny", "choices": [],
                         "usage": USAGE_OPENAI}
                await response.write(f"data: {json.dumps(final)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            self.disconnects += 1
        return response

    async def _ollama(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if body.get("flood"):
            return await self._flood(request)
        final = {"model": "tiny", "done": True, "done_reason": "stop",
                 "prompt_eval_count": OLLAMA_PROMPT_EVAL_COUNT, "eval_count": OLLAMA_EVAL_COUNT}
        if body.get("stream") is False:
            await self._hold(body)
            return web.json_response({**final, "message": {"role": "assistant", "content": "".join(STREAM_WORDS)}})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for index, word in enumerate(STREAM_WORDS):
            line = {"model": "tiny", "message": {"role": "assistant", "content": word}, "done": False}
            await response.write((json.dumps(line) + "\n").encode())
            if index == 0:
                await self._hold(body)
        await response.write((json.dumps(final) + "\n").encode())
        await response.write_eof()
        return response

    async def _sse(self, request: web.Request, events: list[dict[str, Any]]) -> web.StreamResponse:
        """Stream events the way the OpenAI Responses and Anthropic Messages APIs do: `event:` and `data:` lines."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        await response.write_eof()
        return response

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """An OpenAI Responses answer; streamed, the usage is only in `response.completed`."""
        body = await self._record(request)
        done = {"id": "resp_1", "object": "response", "status": "completed", "model": "tiny",
                "output": [{"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": "".join(STREAM_WORDS)}]}],
                "usage": RESPONSES_USAGE}
        if not body.get("stream"):
            return web.json_response(done)
        events: list[dict[str, Any]] = [
            {"type": "response.created", "sequence_number": 0,
             "response": {**done, "status": "in_progress", "output": [], "usage": None}},
        ]
        events += [{"type": "response.output_text.delta", "sequence_number": index + 1, "item_id": "msg_1",
                    "output_index": 0, "content_index": 0, "delta": word} for index, word in enumerate(STREAM_WORDS)]
        events.append({"type": "response.completed", "sequence_number": len(events), "response": done})
        return await self._sse(request, events)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        """An Anthropic Messages answer; streamed, input tokens come in `message_start`, output in `message_delta`."""
        body = await self._record(request)
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "tiny",
                   "stop_reason": None, "stop_sequence": None}
        if not body.get("stream"):
            return web.json_response({
                **message, "content": [{"type": "text", "text": "".join(STREAM_WORDS)}], "stop_reason": "end_turn",
                "usage": {"input_tokens": MESSAGES_INPUT_TOKENS, "output_tokens": MESSAGES_OUTPUT_TOKENS},
            })
        events: list[dict[str, Any]] = [
            {"type": "message_start",
             "message": {**message, "content": [], "usage": {"input_tokens": MESSAGES_INPUT_TOKENS, "output_tokens": 1}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ]
        events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
                   for word in STREAM_WORDS]
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": MESSAGES_OUTPUT_TOKENS}},
            {"type": "message_stop"},
        ]
        return await self._sse(request, events)

    async def _large_json(self, request: web.Request) -> web.StreamResponse:
        """A JSON answer of `size` bytes, held before its last member (the token count) until released."""
        body = await self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"embedding":[')
        filler = b"0.125," * (body["size"] // 6)
        for start in range(0, len(filler), 1 << 16):
            await response.write(filler[start:start + (1 << 16)])
        await self._hold(body)
        await response.write(b'0],"prompt_eval_count":%d}' % OLLAMA_PROMPT_EVAL_COUNT)
        await response.write_eof()
        return response

    async def _flood(self, request: web.Request) -> web.StreamResponse:
        """Stream 64 KiB lines for as long as someone reads them."""
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        line = (json.dumps({"model": "tiny", "response": "x" * 65500, "done": False}) + "\n").encode()
        try:
            while True:
                await response.write(line)
        except ConnectionResetError:
            self.disconnects += 1
        return response

    def close(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@dataclass
class GatewayProcess:
    """The real gateway, run as `python -m slm_deploy.servers.gateway` on loopback ports."""

    workdir: Path
    upstream: str
    settings: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=lambda: dict(KEYS))
    # A file descriptor for the gateway's stdout (its log lines); stderr still goes to the log file.
    stdout: int | None = None

    def __post_init__(self) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        while self.metrics_port == self.port:  # the kernel may hand out the same free port twice
            self.metrics_port = free_port()
        self.key_file = self.workdir / "keys"
        self.write_keys(self.keys)
        settings = {"route_table": "ollama", "exempt_paths": ("/",), "key_reload_interval_seconds": 0.0, **self.settings}
        config = GatewayConfig(
            upstream_url=self.upstream, key_file=str(self.key_file), listen_host="127.0.0.1",
            listen_port=self.port, metrics_host="127.0.0.1", metrics_port=self.metrics_port, **settings,
        )
        self.config_file = self.workdir / "gateway.toml"
        self.config_file.write_text(config_to_toml(config))
        self.log_file = self.workdir / "gateway.log"
        self._log = self.log_file.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLM_GATEWAY")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "slm_deploy.servers.gateway", "--config", str(self.config_file)],
            stdout=self._log if self.stdout is None else self.stdout,
            stderr=subprocess.STDOUT if self.stdout is None else self._log, env=env,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}: {self.logs()}")
            try:
                if self._answers_health():
                    return
            except (httpx.TransportError, OSError):  # not listening yet
                time.sleep(0.05)
        raise RuntimeError("gateway did not become ready: " + self.logs())

    def _answers_health(self) -> bool:
        """Whether the public port answers the health path; subclasses probe the way their clients connect."""
        return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_keys(self, keys: dict[str, str]) -> None:
        """Replace the key file atomically, the way a Kubernetes secret update does."""
        staging = self.workdir / "keys.new"
        staging.write_text(key_file_text(keys))
        staging.replace(self.key_file)

    def metrics_text(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def sample(self, name: str, **labels: str) -> float:
        """The value of one sample (0.0 when absent), matched on the given labels."""
        for family in text_string_to_metric_families(self.metrics_text()):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` whose labels include the given ones."""
        return sum(
            s.value for family in text_string_to_metric_families(self.metrics_text()) for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def logs(self) -> str:
        self._log.flush()
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Call `check` until it returns something truthy (key-file changes load once they settle)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def bearer(key_id: str) -> dict[str, str]:
    """Authorization header for one of the test keys."""
    return {"Authorization": f"Bearer {KEYS[key_id]}"}


# What a runtime sends of an endless answer before giving up on a gateway that never hangs up.
RUNTIME_ENDLESS_LIMIT_BYTES = 64 * 1024 * 1024


class RawRuntime:
    """A runtime answering every request with the bytes it was given, then `endless` until the gateway hangs up."""

    def __init__(self, answer: bytes, endless: bytes = b"") -> None:
        self.answer, self.endless = answer, endless
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            received = b""
            while b"\r\n\r\n" not in received:
                data = client.recv(65536)
                if not data:
                    return
                received += data
            try:
                client.sendall(self.answer)
                for _ in range(RUNTIME_ENDLESS_LIMIT_BYTES // max(1, len(self.endless))):
                    client.sendall(self.endless)
            except OSError:
                return  # the gateway hung up, as it should on an endless answer

    def close(self) -> None:
        self.listener.close()
