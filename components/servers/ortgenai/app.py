"""The ASGI application: routes, request validation, streaming and the background model load."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import openai_format as fmt
from .config import Settings
from .disconnects import ClientLeft, DisconnectWatch
from .engine import Engine, EngineState, OutputSchemaError, PromptRejectedError, PromptTooLongError, Sampling
from .generation import GenerationRun
from .grammar_budget import GrammarBudget
from .metrics import MetricsMiddleware, ServerMetrics
from .request_body import (SCHEMA_PARAM, ClientGone, check_content_type, parse_chat_request, read_body,
                           schema_refusal)
from .schema_limits import SchemaLimitError
from .schemas import ChatCompletionRequest, ChatMessage
from .slots import OverloadedError, SlotPool

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
"""Status recorded for requests whose client hung up before the answer (nginx's convention); nobody receives it."""
NOT_READY_RETRY_AFTER = "5"
OVERLOADED_RETRY_AFTER = "1"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ClosingStreamingResponse(StreamingResponse):
    """A stream that runs `on_close` however it ends: finished, failed, or the client went away."""

    def __init__(self, content, on_close: Callable[[], None], **kwargs) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            log.info("client disconnected during a streamed response")
        finally:
            self._on_close()


class ModelLoader:
    """Loads the model on a daemon thread so the server answers /health (503) while it loads.

    `on_failure` is called on that thread with the reason, so it must be thread-safe.
    """

    def __init__(self, engine: Engine, metrics: ServerMetrics, on_failure: Callable[[str], None] | None) -> None:
        self._engine = engine
        self._metrics = metrics
        self._on_failure = on_failure
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin loading once; later calls do nothing."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="ortgenai-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            self._engine.load()
        except Exception:
            if self._on_failure is not None:
                self._on_failure(self._engine.error or "unknown error")
            return
        self._metrics.model_load_seconds.set(self._engine.load_seconds or 0.0)
        self._metrics.model_loaded.set(1)


class ChatServer:
    """Holds the engine, slots and metrics one application serves with."""

    def __init__(self, settings: Settings, on_load_failure: Callable[[str], None] | None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        self.engine = Engine(settings)
        self.loader = ModelLoader(self.engine, self.metrics, on_load_failure)
        self.grammar_budget = GrammarBudget(settings.model_dir / "tokenizer.json")
        self.slots: SlotPool | None = None

    # -- endpoints -------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        """200 once the model is loaded, else 503; unauthenticated, so it names no model, path or load error."""
        state = self.engine.state
        return JSONResponse({"status": "ok" if state is EngineState.READY else state.value},
                            status_code=200 if state is EngineState.READY else 503)

    async def metrics_text(self, request: Request) -> Response:
        """Prometheus exposition of every ortgenai_* metric."""
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    async def list_models(self, request: Request) -> Response:
        """The one model this server serves, under its served name."""
        return JSONResponse({"object": "list", "data": [self._model_card()]})

    async def get_model(self, request: Request) -> Response:
        """The served model's card, or 404 for any other name."""
        name = request.path_params["model"]
        self._require_served_model(name, param=None)
        return JSONResponse(self._model_card())

    async def chat_completions(self, request: Request) -> Response:
        """POST /v1/chat/completions, streamed as server-sent events or answered in one body."""
        received_at = time.perf_counter()
        check_content_type(request)
        try:
            raw = await read_body(request, self.settings.max_body_bytes, self.settings.body_timeout_seconds)
        except ClientGone:
            return self._client_left()
        body = await asyncio.to_thread(parse_chat_request, raw)
        self._require_served_model(body.model, param="model")
        if self.engine.state is not EngineState.READY:
            raise not_ready_error(self.engine.state)
        schema = body.client_schema()
        if schema is not None:
            try:
                await self.grammar_budget.check(schema)
            except SchemaLimitError as error:
                raise schema_refusal(str(error)) from None
        watch = DisconnectWatch(request.receive)
        try:
            run = await self._start_generation(body, received_at, watch)
        except BaseException as error:
            await watch.stop()
            if isinstance(error, ClientLeft):
                return self._client_left()
            raise
        if watch.client_left:
            return await self._abandon_before_reply(run, watch)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if body.streamed():
            await watch.stop()
            return ClosingStreamingResponse(
                self._stream_events(run, body, completion_id, created),
                on_close=run.close, media_type="text/event-stream", headers=SSE_HEADERS,
            )
        watch.on_leave(run.abandon)
        try:
            content = await _collect_reply(run)
        except Exception as error:
            log.exception("generation failed")
            raise fmt.ApiError(500, f"generation failed: {type(error).__name__}", error_type="server_error",
                               code="generation_failed") from None
        finally:
            run.close()
            await watch.stop()
        if run.outcome == "abandoned":
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        token_usage = fmt.usage(run.session.prompt_tokens, run.session.completion_tokens)
        return JSONResponse(fmt.completion(
            completion_id, created, self.settings.model_name, content, run.session.finish_reason, token_usage,
        ))

    # -- helpers ---------------------------------------------------------------------------------

    def _model_card(self) -> dict[str, Any]:
        return {"id": self.settings.model_name, "object": "model", "created": 0, "owned_by": "slm-deploy"}

    def _require_served_model(self, name: str, param: str | None) -> None:
        if name != self.settings.model_name:
            raise fmt.ApiError(
                404, f"the model {name!r} does not exist; this server serves {self.settings.model_name!r}",
                error_type="invalid_request_error", code="model_not_found", param=param,
            )

    def _client_left(self) -> Response:
        """Nobody reads this answer; its status only labels the request in the metrics."""
        self.metrics.errors.labels(kind="client_disconnected").inc()
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @staticmethod
    async def _abandon_before_reply(run: GenerationRun, watch: DisconnectWatch) -> Response:
        """The client left during the prefill: closing the abandoned run frees its slot and counts the departure."""
        run.abandon()
        run.close()
        await watch.stop()
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def _start_generation(
        self, body: ChatCompletionRequest, received_at: float, watch: DisconnectWatch,
    ) -> GenerationRun:
        """Take a slot, then prefill the prompt on a worker thread; the slot is freed on any failure.

        A client leaving while it waits for the slot raises ClientLeft; one leaving during the prefill still gets
        its run, which the caller abandons, so the departure is counted once either way.
        """
        assert self.slots is not None, "the application's lifespan has not started"
        sampling = Sampling(
            max_new_tokens=body.requested_max_tokens() or self.settings.default_max_tokens,
            temperature=body.temperature, top_p=body.top_p, seed=body.seed, output_schema=body.output_schema(),
        )
        messages = [_prompt_message(message) for message in body.messages]
        try:
            slot = await watch.race(self.slots.acquire(), undo=lambda taken: taken.release())
        except OverloadedError as error:
            raise fmt.ApiError(503, f"the server is busy: {error}; retry later", error_type="server_error",
                               code="overloaded", headers={"Retry-After": OVERLOADED_RETRY_AFTER}) from None
        try:
            session = await self.slots.run(self.engine.start, messages, sampling)
        except (PromptTooLongError, PromptRejectedError, OutputSchemaError) as error:
            slot.release()
            raise _refused_prompt(error) from None
        except BaseException:
            slot.release()
            raise
        return GenerationRun(session, slot, self.slots, self.metrics, body.stop_sequences(), received_at)

    async def _stream_events(
        self, run: GenerationRun, body: ChatCompletionRequest, completion_id: str, created: int,
    ) -> AsyncIterator[str]:
        """The SSE body: a role chunk, content chunks, a finish chunk, optional usage, then [DONE]."""
        model = self.settings.model_name
        with_usage = body.include_usage()
        yield fmt.sse_event(fmt.chunk(completion_id, created, model, {"role": "assistant", "content": ""},
                                      with_usage_field=with_usage))
        try:
            async for text in run.deltas():
                yield fmt.sse_event(fmt.chunk(completion_id, created, model, {"content": text},
                                              with_usage_field=with_usage))
        except Exception as error:
            log.exception("generation failed in a streamed response")
            self.metrics.errors.labels(kind="generation_failed").inc()
            yield fmt.sse_event(fmt.error_body(f"generation failed: {type(error).__name__}", "server_error",
                                               "generation_failed"))
            return
        yield fmt.sse_event(fmt.chunk(completion_id, created, model, {}, run.session.finish_reason,
                                      with_usage_field=with_usage))
        if with_usage:
            token_usage = fmt.usage(run.session.prompt_tokens, run.session.completion_tokens)
            yield fmt.sse_event(fmt.usage_chunk(completion_id, created, model, token_usage))
        yield fmt.SSE_DONE

    # -- error responses -------------------------------------------------------------------------

    async def api_error_response(self, request: Request, error: Exception) -> Response:
        """Answer an ApiError with its OpenAI-style body and count it by kind."""
        assert isinstance(error, fmt.ApiError)
        self.metrics.errors.labels(kind=error.code).inc()
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    async def http_error_response(self, request: Request, error: Exception) -> Response:
        """Unknown paths and wrong methods answer in the same error shape as everything else."""
        assert isinstance(error, HTTPException)
        code = "not_found" if error.status_code == 404 else "method_not_allowed" if error.status_code == 405 else "http_error"
        self.metrics.errors.labels(kind=code).inc()
        return JSONResponse(fmt.error_body(str(error.detail), "invalid_request_error", code),
                            status_code=error.status_code, headers=error.headers)

    async def internal_error_response(self, request: Request, error: Exception) -> Response:
        """A bug or native failure: tell the client only that it happened, and that this connection ends.

        The server then closes the connection (the exception reaches uvicorn, which logs it), so the answer says
        `Connection: close` and a client's next request opens a new connection instead of failing.
        """
        return JSONResponse(fmt.error_body("internal server error", "server_error", "internal"), status_code=500,
                            headers={"Connection": "close"})


def not_ready_error(state: EngineState) -> fmt.ApiError:
    """503 while the model loads or after it failed to; clients retry after a few seconds."""
    message = "the model is still loading" if state is EngineState.LOADING else "the model failed to load"
    return fmt.ApiError(503, message, error_type="server_error", code="model_not_ready",
                        headers={"Retry-After": NOT_READY_RETRY_AFTER})


def _prompt_message(message: ChatMessage) -> dict[str, str]:
    """What the chat template sees of a message: role, text, and the participant's name when given."""
    rendered = {"role": message.role, "content": message.text()}
    if message.name is not None:
        rendered["name"] = message.name
    return rendered


def _refused_prompt(error: ValueError) -> fmt.ApiError:
    """A 400 for a prompt or output schema the engine cannot take, naming the parameter at fault."""
    param = SCHEMA_PARAM if isinstance(error, OutputSchemaError) else "messages"
    code = "context_length_exceeded" if isinstance(error, PromptTooLongError) else "invalid_request"
    return fmt.ApiError(400, f"{param}: {error}", error_type="invalid_request_error", code=code, param=param)


async def _collect_reply(run: GenerationRun) -> str:
    """The whole reply; it ends early when the client leaves, since the watch abandons the run."""
    return "".join([text async for text in run.deltas()])


def create_app(
    settings: Settings, *, autoload: bool = True, on_load_failure: Callable[[str], None] | None = None,
) -> Starlette:
    """Build the application; with autoload off, call `app.state.server.loader.start()` to load later."""
    server = ChatServer(settings, on_load_failure)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        server.slots = SlotPool(settings.max_concurrency, settings.max_queue, server.metrics)
        if autoload:
            server.loader.start()
        try:
            yield
        finally:
            server.slots.shutdown()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
            Route("/v1/models", server.list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", server.get_model, methods=["GET"]),
            Route("/health", server.health, methods=["GET"]),
            Route("/metrics", server.metrics_text, methods=["GET"]),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=server.metrics)],
        exception_handlers={
            fmt.ApiError: server.api_error_response,
            HTTPException: server.http_error_response,
            Exception: server.internal_error_response,
        },
        lifespan=lifespan,
    )
    app.state.server = server
    return app
