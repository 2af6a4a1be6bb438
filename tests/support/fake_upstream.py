"""Fake OpenAI-style and Ollama-style servers with known delays and injectable faults, on 127.0.0.1.

Each runs its own event loop on a thread, so a client under test in the main thread measures real sockets and
real timing: the first token is sent `ttft` seconds after the request arrives, each later one `token_gap`
seconds after the previous one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

RESIDENT_MEMORY_BYTES = 123_456_789


@dataclass(frozen=True)
class FakeBehaviour:
    """What the fake does; the defaults answer correctly."""

    style: str = "openai"
    """openai, or ollama (adds /api/tags and /api/chat and answers / like Ollama)."""
    model: str = "fake-model"
    key: str | None = "k" * 32
    ttft: float = 0.0
    token_gap: float = 0.0
    tokens: int = 8
    faults: frozenset[str] = field(default_factory=frozenset)
    """no-auth, stream-cut (no [DONE], connection closed), stream-endless (content until the client leaves),
    stream-not-sse, chat-500, chat-500-markup (an error message with terminal escapes and rich markup),
    chat-429-half (every second chat request), public-metrics, tools-text."""


class FakeUpstream:
    """An aiohttp app serving the behaviour; `url` is set once it listens."""

    def __init__(self, behaviour: FakeBehaviour) -> None:
        self.behaviour = behaviour
        self.url = ""
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-upstream", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake upstream did not start")
        return self.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/", self.root)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/api/tags", self.tags)
        app.router.add_post("/api/chat", self.ollama_chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes no other way
        self.url = f"http://127.0.0.1:{port}"

    # -- helpers --------------------------------------------------------------------------------

    def _refused(self, request: web.Request) -> web.Response | None:
        b = self.behaviour
        if b.key is None or "no-auth" in b.faults:
            return None
        if request.headers.get("Authorization") != f"Bearer {b.key}":
            return web.json_response({"error": {"message": "Invalid API key.", "type": "invalid_request_error"}},
                                     status=401)
        return None

    def _words(self) -> list[str]:
        return [f"w{i} " for i in range(self.behaviour.tokens)]

    # -- endpoints ------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running" if self.behaviour.style == "ollama" else "ok")

    async def metrics(self, request: web.Request) -> web.Response:
        if "public-metrics" not in self.behaviour.faults:
            refused = self._refused(request)
            if refused:
                return refused
        text = ("# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\n"
                f"process_resident_memory_bytes {RESIDENT_MEMORY_BYTES:.1f}\n")
        return web.Response(text=text, content_type="text/plain")

    async def models(self, request: web.Request) -> web.Response:
        return self._refused(request) or web.json_response(
            {"object": "list", "data": [{"id": self.behaviour.model, "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused:
            return refused
        body = await request.json()
        self.requests.append("chat")
        b = self.behaviour
        if "chat-500" in b.faults:
            return web.json_response({"error": {"message": "engine crashed", "type": "server_error"}}, status=500)
        if "chat-500-markup" in b.faults:
            return web.json_response({"error": {"message": "[/][bold red]boom\x1b[2J[/bold red]"}}, status=500)
        if "chat-429-half" in b.faults and len(self.requests) % 2 == 0:
            return web.json_response({"error": {"message": "Rate limit exceeded.", "type": "rate_limit_error"}},
                                     status=429, headers={"Retry-After": "1"})
        if body.get("tools"):
            return web.json_response(self._tool_reply(body))
        if not body.get("stream"):
            await asyncio.sleep(b.ttft + b.token_gap * (b.tokens - 1))
            return web.json_response({
                "id": "c1", "object": "chat.completion", "model": b.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(self._words())},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": b.tokens, "total_tokens": 5 + b.tokens}})
        return await self._stream(request, body)

    def _tool_reply(self, body: dict) -> dict:
        message: dict = {"role": "assistant", "content": "It is sunny."}
        if "tools-text" not in self.behaviour.faults:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": body["tools"][0]["function"]["name"], "arguments": '{"city": "Paris"}'}}]}
        return {"id": "c2", "object": "chat.completion", "model": self.behaviour.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}}

    async def _stream(self, request: web.Request, body: dict) -> web.StreamResponse:
        b = self.behaviour
        if "stream-not-sse" in b.faults:
            return web.json_response({"id": "c1", "object": "chat.completion", "choices": []})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(chunk: dict | str) -> None:
            data = chunk if isinstance(chunk, str) else json.dumps(chunk)
            await response.write(f"data: {data}\n\n".encode())

        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {"id": "c1", "object": "chat.completion.chunk", "model": b.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        await send(chunk({"role": "assistant", "content": ""}))
        await asyncio.sleep(b.ttft)
        for index, word in enumerate(self._words()):
            if index:
                await asyncio.sleep(b.token_gap)
            await send(chunk({"content": word}))
            if "stream-cut" in b.faults and index == 1:
                request.transport.close()
                return response
        while "stream-endless" in b.faults:
            await asyncio.sleep(b.token_gap or 0.01)
            await send(chunk({"content": "more "}))
        await send(chunk({}, "length"))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({"id": "c1", "object": "chat.completion.chunk", "model": b.model, "choices": [],
                        "usage": {"prompt_tokens": 5, "completion_tokens": b.tokens, "total_tokens": 5 + b.tokens}})
        await send("[DONE]")
        await response.write_eof()
        return response

    async def tags(self, request: web.Request) -> web.Response:
        if self.behaviour.style != "ollama":
            return web.json_response({"error": "not found"}, status=404)
        return self._refused(request) or web.json_response({"models": [{"name": self.behaviour.model}]})

    async def ollama_chat(self, request: web.Request) -> web.StreamResponse:
        if self.behaviour.style != "ollama":
            return web.json_response({"error": "not found"}, status=404)
        refused = self._refused(request)
        if refused:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await asyncio.sleep(self.behaviour.ttft)
        for word in self._words():
            line = {"model": self.behaviour.model, "message": {"role": "assistant", "content": word}, "done": False}
            await response.write((json.dumps(line) + "\n").encode())
            await asyncio.sleep(self.behaviour.token_gap)
        if "stream-cut" not in self.behaviour.faults:
            done = {"model": self.behaviour.model, "message": {"role": "assistant", "content": ""}, "done": True,
                    "done_reason": "stop"}
            await response.write((json.dumps(done) + "\n").encode())
        await response.write_eof()
        return response


@contextmanager
def fake_upstream(behaviour: FakeBehaviour | None = None, **changes) -> Iterator[FakeUpstream]:
    """A running fake for the duration of the block."""
    server = FakeUpstream(behaviour or FakeBehaviour(**changes))
    server.start()
    try:
        yield server
    finally:
        server.stop()
