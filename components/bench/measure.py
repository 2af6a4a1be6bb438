"""Send one streamed chat completion and time it: first token, every later token, and the end of the stream."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Literal

import httpx
from httpx_sse import SSEError, aconnect_sse

Phase = Literal["warmup", "measure"]
ERROR_EXCERPT = 160


@dataclass
class RequestRecord:
    """What one request did; times in seconds, `start` relative to the start of the run."""

    phase: Phase
    start: float
    status: int | None = None
    ttft: float | None = None
    e2e: float | None = None
    itl: list[float] = field(default_factory=list)
    output_tokens: int = 0
    prompt_tokens: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Answered 200 and streamed to [DONE] with at least one token."""
        return self.error is None and self.status == 200 and self.ttft is not None

    @property
    def tpot(self) -> float | None:
        """Mean time per output token after the first (decode speed), as vLLM's benchmark defines it."""
        if not self.ok or self.output_tokens < 2 or self.e2e is None or self.ttft is None:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


def _carries_token(chunk: dict) -> bool:
    """Content or a tool-call fragment; the role-only opening chunk and the finish chunk carry none."""
    for choice in chunk.get("choices") or []:
        delta = (choice.get("delta") or {}) if isinstance(choice, dict) else {}
        if delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content"):
            return True
    return False


def _error_text(response: httpx.Response) -> str:
    text = response.text
    try:
        body = json.loads(text)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            text = str(body["error"].get("message"))
    except ValueError:
        pass
    return " ".join(text.split())[:ERROR_EXCERPT]


async def stream_chat(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict,
                      record: RequestRecord, clock_zero: float, timeout: float) -> RequestRecord:
    """Fill `record` from one streamed request within `timeout` seconds; failures become the record's error."""
    started = clock_zero + record.start
    last = started
    chunks = 0
    try:
        async with aconnect_sse(client, "POST", url, headers=headers, json=body) as source:
            record.status = source.response.status_code
            if record.status != 200:
                await source.response.aread()
                record.error = f"HTTP {record.status}: {_error_text(source.response)}"
                return record
            async for event in source.aiter_sse():
                now = time.perf_counter()
                if now - started > timeout:
                    record.error = "no [DONE] within the request timeout"
                    return record
                if event.data.strip() == "[DONE]":
                    record.e2e = now - started
                    break
                chunk = json.loads(event.data)
                if not isinstance(chunk, dict):
                    raise ValueError("a chunk is not a JSON object")
                if "error" in chunk:
                    record.error = f"error event: {str(chunk['error'])[:ERROR_EXCERPT]}"
                    return record
                if _carries_token(chunk):
                    chunks += 1
                    if record.ttft is None:
                        record.ttft = now - started
                    else:
                        record.itl.append(now - last)
                    last = now
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    record.output_tokens = usage["completion_tokens"]
                    record.prompt_tokens = usage.get("prompt_tokens")
    except (SSEError, ValueError) as exc:
        record.error = f"malformed stream: {type(exc).__name__}"
        return record
    except httpx.HTTPError as exc:
        record.error = f"{type(exc).__name__}"
        return record
    if record.e2e is None:
        record.error = "the stream ended without [DONE]"
    elif record.ttft is None:
        record.error = "no token in the stream"
    elif not record.output_tokens:
        record.output_tokens = chunks  # no usage reported: one token per content chunk
    return record
