"""Checks of the OpenAI-compatible API: health, readiness, model listing, chat (plain and streamed), tool calls."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from slm_deploy.smoke.session import CheckFailed, CheckSkipped, SmokeSession, json_body

HEALTH_CANDIDATES = ("/healthz", "/health", "/")
CHAT_PATH = "/v1/chat/completions"
MAX_TOKENS = 16
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def check_health(session: SmokeSession) -> str:
    """The endpoint's liveness path answers 200 (probed among the usual paths when no spec names it)."""
    paths = (session.expect.health_path,) if session.expect.health_path else HEALTH_CANDIDATES
    answers = []
    for path in paths:
        response = session.client.get(session.url(path))
        if response.status_code == 200:
            return f"GET {path}: 200"
        answers.append(session.describe(response, f"GET {path}"))
    raise CheckFailed("; ".join(answers))


def check_ready(session: SmokeSession) -> str:
    """The runtime behind the endpoint reports that its model is loaded."""
    path = session.expect.ready_path
    if not path:
        raise CheckSkipped("no --spec, so the runtime's readiness path is unknown")
    response = session.client.get(session.url(path), headers=session.headers())
    if response.status_code != 200:
        raise CheckFailed(session.describe(response, f"GET {path}"))
    return f"GET {path}: 200"


def check_models(session: SmokeSession) -> str:
    """GET /v1/models lists the served model (the spec's name, or any when no spec is given)."""
    body = json_body(session, session.client.get(session.url("/v1/models"), headers=session.headers()),
                     "GET /v1/models")
    data = body.get("data")
    ids = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
    if not ids:
        raise CheckFailed("GET /v1/models answered no models (expected a `data` list of objects with `id`)")
    expected = session.expect.model
    if expected and expected not in ids:
        raise CheckFailed(f"GET /v1/models does not list {expected!r}; it lists {', '.join(map(str, ids[:5]))}")
    session.model = expected or str(ids[0])
    return f"serves {session.model}"


def _chat_request(session: SmokeSession, content: str, **extra: object) -> dict:
    return {"model": session.model_name(), "messages": [{"role": "user", "content": content}],
            "max_tokens": MAX_TOKENS, "temperature": 0, **extra}


def check_chat(session: SmokeSession) -> str:
    """A plain chat completion comes back as an assistant message with token usage."""
    what = f"POST {CHAT_PATH}"
    body = json_body(session, session.client.post(session.url(CHAT_PATH), headers=session.headers(),
                                                  json=_chat_request(session, "Say hello.")), what)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CheckFailed(f"{what} answered without `choices`")
    message = choices[0].get("message") or {}
    if message.get("role") != "assistant" or not isinstance(message.get("content"), str):
        raise CheckFailed(f"{what}: choices[0].message is not an assistant message with text content")
    if not choices[0].get("finish_reason"):
        raise CheckFailed(f"{what}: choices[0] has no finish_reason")
    usage = body.get("usage") or {}
    tokens = usage.get("completion_tokens")
    if not isinstance(tokens, int) or tokens < 1:
        raise CheckFailed(f"{what}: usage.completion_tokens is missing or zero")
    return f"{tokens} tokens, finish_reason {choices[0]['finish_reason']}"


def check_chat_stream(session: SmokeSession) -> str:
    """A streamed chat completion arrives as server-sent chunks with content and ends with [DONE]."""
    what = f"POST {CHAT_PATH} (stream)"
    events = content_chunks = 0
    try:
        with connect_sse(session.client, "POST", session.url(CHAT_PATH), headers=session.headers(),
                         json=_chat_request(session, "Count to five.", stream=True)) as source:
            if source.response.status_code != 200:
                source.response.read()
                raise CheckFailed(session.describe(source.response, what))
            deadline = session.deadline()
            for event in source.iter_sse():
                if time.monotonic() > deadline:
                    raise CheckFailed(f"{what}: no `data: [DONE]` within the timeout, after {events} chunks")
                if event.data.strip() == "[DONE]":
                    if not content_chunks:
                        raise CheckFailed(f"{what}: {events} chunks, none carried content")
                    return f"{content_chunks} content chunks, then [DONE]"
                events += 1
                content_chunks += _stream_chunk(what, events, event.data)
    except SSEError as exc:
        raise CheckFailed(f"{what}: not an event stream ({exc})") from None
    except httpx.TransportError as exc:
        raise CheckFailed(f"{what}: the stream broke after {events} chunks ({type(exc).__name__})") from None
    raise CheckFailed(f"{what}: the stream ended after {events} chunks without `data: [DONE]`")


def _stream_chunk(what: str, number: int, data: str) -> int:
    """1 if the chunk carries content, 0 if not; fails on malformed chunks and error events."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise CheckFailed(f"{what}: chunk {number} is not JSON") from None
    if not isinstance(chunk, dict):
        raise CheckFailed(f"{what}: chunk {number} is not a JSON object")
    if "error" in chunk:
        error = chunk["error"]
        raise CheckFailed(f"{what}: error event: {error.get('message') if isinstance(error, dict) else error}")
    if chunk.get("object") != "chat.completion.chunk":
        raise CheckFailed(f"{what}: chunk {number} has object {chunk.get('object')!r}, not chat.completion.chunk")
    choices = chunk.get("choices") or []
    return int(any(isinstance(c, dict) and (c.get("delta") or {}).get("content") for c in choices))


def check_tool_call(session: SmokeSession) -> str:
    """Where the runtime parses tool calls, a forced call comes back as a function call with JSON arguments."""
    expect = session.expect
    if not expect.tool_calls:
        raise CheckSkipped(expect.tool_calls_note)
    what = f"POST {CHAT_PATH} (tools)"
    request = _chat_request(session, "What is the weather in Paris? Use the get_weather tool.",
                            tools=[WEATHER_TOOL], tool_choice="required")
    request["max_tokens"] = 128
    body = json_body(session, session.client.post(session.url(CHAT_PATH), headers=session.headers(), json=request),
                     what)
    choices = body.get("choices") if isinstance(body.get("choices"), list) else []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list) or not calls or not isinstance(calls[0], dict):
        raise CheckFailed(f"{what}: answered with text instead of a tool call")
    called = calls[0].get("function")
    function: dict[str, Any] = called if isinstance(called, dict) else {}
    if function.get("name") != "get_weather":
        raise CheckFailed(f"{what}: called {function.get('name')!r}, not get_weather")
    try:
        arguments = json.loads(function.get("arguments") or "")
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: the call's arguments are not JSON") from None
    if not isinstance(arguments, dict):
        raise CheckFailed(f"{what}: the call's arguments are not a JSON object")
    return f"get_weather({', '.join(sorted(arguments))})"
