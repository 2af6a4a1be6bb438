"""OpenAI-shaped response bodies: completions, stream chunks, usage and errors."""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """An error answered with an OpenAI-style body; `code` doubles as the error metric's kind."""

    def __init__(
        self, status: int, message: str, *, error_type: str, code: str, param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients parse for errors."""
        return error_body(self.message, self.error_type, self.code, self.param)


def error_body(message: str, error_type: str, code: str, param: str | None = None) -> dict[str, Any]:
    """{"error": {...}} as the OpenAI API returns it."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """Token accounting for one request."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(
    completion_id: str, created: int, model: str, content: str, finish_reason: str | None, token_usage: dict
) -> dict[str, Any]:
    """A non-streamed chat completion."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": token_usage,
    }


def chunk(
    completion_id: str, created: int, model: str, delta: dict[str, str], finish_reason: str | None = None,
    *, with_usage_field: bool = False,
) -> dict[str, Any]:
    """One streamed chunk; `usage: null` is present when the client asked for a usage chunk at the end."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage_field:
        body["usage"] = None
    return body


def usage_chunk(completion_id: str, created: int, model: str, token_usage: dict) -> dict[str, Any]:
    """The last chunk of a stream with include_usage: no choices, only usage."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": token_usage,
    }


def sse_event(payload: dict[str, Any]) -> str:
    """One server-sent event carrying a JSON payload."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


SSE_DONE = "data: [DONE]\n\n"
