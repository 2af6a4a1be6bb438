"""Generation slots under load: the limit holds, the queue is bounded, and a vanished client frees its slot.

These tests speak raw ASGI to the application so that a client can pause mid-stream: a paused reader
keeps its generation (and slot) open, which makes slot occupancy observable without any timing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the ortgenai server needs starlette")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from slm_deploy.servers.ortgenai.app import create_app  # noqa: E402
from slm_deploy.servers.ortgenai.config import Settings  # noqa: E402
from slm_deploy.servers.ortgenai.engine import EngineState  # noqa: E402
from tests.servers.ortgenai_helpers import SERVED_NAME, metric  # noqa: E402

WAIT_SECONDS = 60.0


class Exchange:
    """One HTTP request driven through ASGI by a client that can pause reading or hang up."""

    def __init__(self, app, method: str, path: str, body: dict | None = None, *, spec_version: str = "2.3") -> None:
        self.app = app
        self.scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8001),
        }
        self.request_body = json.dumps(body).encode() if body is not None else b""
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.pause_at_first_content = False
        self.hang_up_at_first_content = False
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()
        self.hung_up = asyncio.Event()
        self.disconnect_delivered = threading.Event()
        self._body_sent = False

    async def receive(self) -> dict:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self.request_body, "more_body": False}
        await self.hung_up.wait()
        self.disconnect_delivered.set()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        if self.hung_up.is_set() and self.scope["asgi"]["spec_version"] >= "2.4":
            raise OSError("the client closed the connection")
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {key.decode(): value.decode() for key, value in message["headers"]}
            return
        chunk = message.get("body", b"")
        self.body += chunk
        if b'"content":"' in chunk and b'"content":""' not in chunk:
            if self.hang_up_at_first_content:
                self.hung_up.set()
            if self.pause_at_first_content and not self.paused.is_set():
                self.paused.set()
                await self.resume.wait()

    async def run(self) -> "Exchange":
        await self.app(self.scope, self.receive, self.send)
        return self

    def json(self) -> dict:
        return json.loads(self.body)


async def metrics_of(app) -> str:
    return (await Exchange(app, "GET", "/metrics").run()).body.decode()


async def until(condition, what: str) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_SECONDS)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def serving(app) -> None:
    server = app.state.server

    async def ready() -> bool:
        return server.engine.state is EngineState.READY

    await until(ready, "the model to load")


def chat(max_tokens: int, stream: bool) -> dict:
    return {"model": SERVED_NAME, "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
            "max_tokens": max_tokens, "temperature": 0, "stream": stream}


def test_one_slot_one_queue_place_third_request_is_turned_away(tiny_onnx_model: Path):
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME,
                              max_concurrency=1, max_queue=1))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            await serving(app)
            holder = Exchange(app, "POST", "/v1/chat/completions", chat(max_tokens=40, stream=True))
            holder.pause_at_first_content = True
            holder_task = asyncio.create_task(holder.run())
            await asyncio.wait_for(holder.paused.wait(), WAIT_SECONDS)

            queued = Exchange(app, "POST", "/v1/chat/completions", chat(max_tokens=6, stream=False))
            queued_task = asyncio.create_task(queued.run())

            async def one_waiting() -> bool:
                return metric(await metrics_of(app), "ortgenai_requests_waiting") == 1

            await until(one_waiting, "the second request to queue")
            text = await metrics_of(app)
            assert metric(text, "ortgenai_generations_running") == 1
            assert not queued_task.done()

            turned_away = await Exchange(app, "POST", "/v1/chat/completions", chat(6, False)).run()
            assert turned_away.status == 503
            assert turned_away.json()["error"]["code"] == "overloaded"
            assert turned_away.headers["retry-after"] == "1"

            health = await Exchange(app, "GET", "/health").run()
            assert health.status == 200, "the event loop must keep answering while every slot is busy"

            holder.resume.set()
            await asyncio.wait_for(asyncio.gather(holder_task, queued_task), WAIT_SECONDS)
            assert holder.status == 200 and holder.body.endswith(b"data: [DONE]\n\n")
            assert queued.status == 200
            assert queued.json()["usage"]["completion_tokens"] >= 1
            text = await metrics_of(app)
            assert metric(text, "ortgenai_generations_running") == 0
            assert metric(text, "ortgenai_requests_waiting") == 0
            assert metric(text, "ortgenai_errors_total", kind="overloaded") == 1

    asyncio.run(scenario())


def test_concurrent_requests_never_exceed_the_slot_count(tiny_onnx_model: Path):
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME,
                              max_concurrency=2, max_queue=8))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            await serving(app)
            holders = [Exchange(app, "POST", "/v1/chat/completions", chat(30, True)) for _ in range(3)]
            for holder in holders:
                holder.pause_at_first_content = True
            tasks = [asyncio.create_task(holder.run()) for holder in holders]

            async def two_streaming_one_waiting() -> bool:
                text = await metrics_of(app)
                return (sum(holder.paused.is_set() for holder in holders),
                        metric(text, "ortgenai_generations_running"),
                        metric(text, "ortgenai_requests_waiting")) == (2, 2, 1)

            await until(two_streaming_one_waiting, "two generations streaming and one waiting")
            [waiting] = [holder for holder in holders if not holder.paused.is_set()]
            assert waiting.status is None, "the third request must not start before a slot frees up"

            for holder in holders:
                holder.resume.set()
            await asyncio.wait_for(asyncio.gather(*tasks), WAIT_SECONDS)
            assert [holder.status for holder in holders] == [200, 200, 200]
            assert all(holder.body.endswith(b"data: [DONE]\n\n") for holder in holders)

    asyncio.run(scenario())


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"], ids=["disconnect-message", "send-raises"])
def test_client_hanging_up_mid_stream_frees_its_slot_and_stops_generating(tiny_onnx_model: Path, spec_version):
    max_tokens = 400
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME,
                              max_concurrency=1, max_queue=0))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            await serving(app)
            leaver = Exchange(app, "POST", "/v1/chat/completions", chat(max_tokens, True), spec_version=spec_version)
            leaver.hang_up_at_first_content = True
            await asyncio.wait_for(leaver.run(), WAIT_SECONDS)
            assert b"data: [DONE]" not in leaver.body
            text = await metrics_of(app)
            assert metric(text, "ortgenai_generations_running") == 0
            assert 1 <= metric(text, "ortgenai_generation_tokens_total") < max_tokens
            assert metric(text, "ortgenai_errors_total", kind="client_disconnected") == 1

            after = await Exchange(app, "POST", "/v1/chat/completions", chat(4, False)).run()
            assert after.status == 200, "the slot must be free again (the queue allows no waiting)"

    asyncio.run(scenario())


@pytest.mark.parametrize("stream", [False, True], ids=["non-streamed", "streamed"])
def test_client_leaving_during_the_prefill_is_counted_once_and_frees_its_slot(tiny_onnx_model: Path, monkeypatch,
                                                                              stream):
    app = create_app(Settings(model_dir=tiny_onnx_model, served_model_name=SERVED_NAME,
                              max_concurrency=1, max_queue=0))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            await serving(app)
            loop = asyncio.get_running_loop()
            leaver = Exchange(app, "POST", "/v1/chat/completions", chat(400, stream))
            engine = app.state.server.engine
            prefill = engine.start

            def prefill_then_hang_up(*args):
                """The client hangs up while the prompt is prefilled; the server has heard it before the prefill ends."""
                session = prefill(*args)
                loop.call_soon_threadsafe(leaver.hung_up.set)
                assert leaver.disconnect_delivered.wait(WAIT_SECONDS), "the hang-up never reached the server"
                return session

            monkeypatch.setattr(engine, "start", prefill_then_hang_up)
            await asyncio.wait_for(leaver.run(), WAIT_SECONDS)
            monkeypatch.undo()
            assert leaver.status == 499
            text = await metrics_of(app)
            assert metric(text, "ortgenai_errors_total", kind="client_disconnected") == 1
            assert metric(text, "ortgenai_generations_running") == 0
            assert metric(text, "ortgenai_generation_tokens_total") == 0
            assert metric(text, "ortgenai_prompt_tokens_total") >= 1

            after = await Exchange(app, "POST", "/v1/chat/completions", chat(4, False)).run()
            assert after.status == 200, "the slot must be free again (the queue allows no waiting)"

    asyncio.run(scenario())
