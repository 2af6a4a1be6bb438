"""Checks of Ollama's native API (/api/tags, /api/chat), which Ollama clients use instead of /v1."""

from __future__ import annotations

import json
import time

import httpx

from slm_deploy.smoke.session import CheckFailed, CheckSkipped, SmokeSession, json_body


def _require_ollama(session: SmokeSession) -> None:
    if not session.expect.ollama_native:
        raise CheckSkipped("not an Ollama runtime" if session.expect.runtime else "no --spec names Ollama")


def check_ollama_tags(session: SmokeSession) -> str:
    """GET /api/tags lists the served model."""
    _require_ollama(session)
    body = json_body(session, session.client.get(session.url("/api/tags"), headers=session.headers()),
                     "GET /api/tags")
    names = [m.get("name") or m.get("model") for m in body.get("models") or [] if isinstance(m, dict)]
    model = session.model_name()
    if model not in names:
        raise CheckFailed(f"GET /api/tags does not list {model!r}")
    return f"lists {model}"


def check_ollama_chat(session: SmokeSession) -> str:
    """POST /api/chat streams NDJSON messages and ends with done: true."""
    _require_ollama(session)
    what = "POST /api/chat"
    request = {"model": session.model_name(), "messages": [{"role": "user", "content": "Say hello."}],
               "stream": True, "options": {"num_predict": 16, "temperature": 0}}
    lines = 0
    try:
        with session.client.stream("POST", session.url("/api/chat"), headers=session.headers(),
                                   json=request) as response:
            if response.status_code != 200:
                response.read()
                raise CheckFailed(session.describe(response, what))
            deadline = session.deadline()
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise CheckFailed(f"{what}: no `done: true` within the timeout, after {lines} lines")
                if not line.strip():
                    continue
                lines += 1
                try:
                    message = json.loads(line)
                except ValueError:
                    raise CheckFailed(f"{what}: line {lines} is not JSON") from None
                if isinstance(message, dict) and message.get("error"):
                    raise CheckFailed(f"{what}: error: {message['error']}")
                if isinstance(message, dict) and message.get("done") is True:
                    return f"{lines} NDJSON lines, done ({message.get('done_reason', 'no reason given')})"
    except httpx.TransportError as exc:
        raise CheckFailed(f"{what}: the stream broke after {lines} lines ({type(exc).__name__})") from None
    raise CheckFailed(f"{what}: the stream ended after {lines} lines without `done: true`")
