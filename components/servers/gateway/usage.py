"""Read token counts out of runtime responses as they stream past, without delaying them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Lines are parsed only when they carry one of these markers, so ordinary token chunks cost
# one substring search.
_USAGE_MARKER = re.compile(rb'"(?:usage|eval_count|prompt_eval_count)"')
# A chunk's `"usage": null` member, which a runtime adds to every chunk once usage is asked for.
_NULL_USAGE = re.compile(rb',\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,')
MAX_LINE_BYTES = 1 << 20
MAX_JSON_BODY_BYTES = 8 << 20
# Parsing JSON can take twenty times its size in objects; larger streamed requests go upstream as sent.
MAX_INJECTION_BODY_BYTES = 2 << 20
JSON_WHITESPACE = b" \t\r\n"
# Added to a streamed request that has no stream_options; the object is never empty, it holds `stream`.
STREAM_USAGE_MEMBER = b',"stream_options":{"include_usage":true}'


@dataclass(frozen=True)
class TokenUsage:
    """Prompt and generated token counts for one request."""

    input_tokens: int
    output_tokens: int


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def usage_from_object(obj: Any) -> TokenUsage | None:
    """Token counts from an OpenAI `usage` object or Ollama's `prompt_eval_count`/`eval_count`."""
    if not isinstance(obj, dict):
        return None
    usage = obj.get("usage")
    if isinstance(usage, dict):
        prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _count(usage.get("completion_tokens", usage.get("output_tokens", 0)))
        if prompt is not None and completion is not None:
            return TokenUsage(prompt, completion)
    if "eval_count" in obj or "prompt_eval_count" in obj:
        prompt = _count(obj.get("prompt_eval_count", 0))
        completion = _count(obj.get("eval_count", 0))
        if prompt is not None and completion is not None:
            return TokenUsage(prompt, completion)
    return None


def _is_usage_only_event(obj: Any) -> bool:
    """The extra final SSE chunk a runtime sends for `include_usage`: usage and no choices."""
    return isinstance(obj, dict) and obj.get("choices") == [] and isinstance(obj.get("usage"), dict)


class LineStreamTap:
    """Watches SSE or newline-delimited JSON for usage; holds back at most one unfinished line.

    When the gateway itself asked the runtime for usage, `drop_usage_event` removes that extra
    event and the `"usage": null` the runtime adds to every other chunk, so the client sees the
    stream it asked for.
    """

    def __init__(self, drop_usage_event: bool = False) -> None:
        self.usage: TokenUsage | None = None
        self._drop = drop_usage_event
        self._tail = b""
        self._skip_blank = False

    def feed(self, chunk: bytes) -> bytes:
        """Take bytes from the runtime; return the bytes to send to the client now."""
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) > MAX_LINE_BYTES:
                self._tail = b""
                return data
            self._tail = data
            return b""
        complete, self._tail = data[: end + 1], data[end + 1 :]
        if not self._skip_blank and not _USAGE_MARKER.search(complete):
            return complete
        return self._scan(complete)

    def finish(self) -> bytes:
        """The stream ended: release any unfinished last line (and read it for usage)."""
        tail, self._tail = self._tail, b""
        if tail and _USAGE_MARKER.search(tail):
            self._read_usage(tail.strip())
        return tail

    def _read_usage(self, line: bytes) -> Any:
        """Parse one line (SSE `data:` or bare JSON); record any usage; return the object, or None."""
        payload = line[5:].strip() if line.startswith(b"data:") else line
        obj = parse_json(payload)
        found = usage_from_object(obj)
        if found is not None:
            self.usage = found
        return obj

    def _scan(self, complete: bytes) -> bytes:
        """Parse only the lines that carry a marker; drop the injected usage event and its blank separator."""
        parts: list[bytes] = []
        copied = searched = 0  # bytes already copied to `parts`; bytes whose markers were handled
        if self._skip_blank:
            self._skip_blank = False
            first_end = complete.index(b"\n") + 1
            if not complete[:first_end].strip():
                copied = searched = first_end
        for marker in _USAGE_MARKER.finditer(complete, searched):
            if marker.start() < searched:
                continue  # a second marker on a line already handled
            start = complete.rfind(b"\n", 0, marker.start()) + 1
            end = searched = complete.index(b"\n", marker.end()) + 1
            replacement = self._rewrite(complete[start:end])
            if replacement is None:
                continue
            parts.append(complete[copied:start])
            parts.append(replacement)
            copied = end
            if not replacement:  # the dropped event's blank separator goes too, even in the next chunk
                following = complete.find(b"\n", end)
                if following < 0:
                    self._skip_blank = True
                elif not complete[end:following].strip():
                    copied = searched = following + 1
        if not parts and not copied:
            return complete
        parts.append(complete[copied:])
        return b"".join(parts)

    def _rewrite(self, line: bytes) -> bytes | None:
        """Record a marked line's usage; return what replaces it (b"" drops it), or None to keep it as it is."""
        stripped = line.strip()
        obj = self._read_usage(stripped)
        if not (self._drop and stripped.startswith(b"data:") and isinstance(obj, dict) and "usage" in obj):
            return None
        if _is_usage_only_event(obj):
            return b""
        if obj["usage"] is None:
            return _NULL_USAGE.sub(b"", line, count=1)
        return None


class JsonBodyTap:
    """Keeps a bounded copy of a non-streamed JSON body to read its usage at the end."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._overflow = False

    def feed(self, chunk: bytes) -> bytes:
        """Copy the chunk (up to the size bound) and pass it on unchanged."""
        if not self._overflow:
            self._size += len(chunk)
            if self._size > MAX_JSON_BODY_BYTES:
                self._overflow = True
                self._parts.clear()
            else:
                self._parts.append(chunk)
        return chunk

    def finish(self) -> bytes:
        """Nothing is held back."""
        return b""

    @property
    def usage(self) -> TokenUsage | None:
        """Token counts from the whole body, if it was small enough to read."""
        if self._overflow or not self._parts:
            return None
        body = b"".join(self._parts)
        if not _USAGE_MARKER.search(body):
            return None
        return usage_from_object(parse_json(body))


def with_stream_usage(obj: Any) -> dict[str, Any] | None:
    """For a streamed OpenAI request object that did not ask for usage, the same request asking for it."""
    if not isinstance(obj, dict) or obj.get("stream") is not True:
        return None
    options = obj.get("stream_options")
    if options is not None and not isinstance(options, dict):
        return None
    if options and options.get("include_usage") is True:
        return None
    return {**obj, "stream_options": {**(options or {}), "include_usage": True}}


def request_usage_injection(body: bytes) -> bytes | None:
    """For a streamed OpenAI request body that did not ask for usage, the same request asking for it.

    A body without `stream_options` keeps the client's bytes: the member is spliced in before the closing brace.
    """
    if len(body) > MAX_INJECTION_BODY_BYTES or b'"stream"' not in body:
        return None
    obj = parse_json(body)
    asked = with_stream_usage(obj)
    if asked is None:
        return None
    trimmed = body.strip(JSON_WHITESPACE)
    if "stream_options" not in obj and trimmed.startswith(b"{") and trimmed.endswith(b"}"):  # UTF-8, not UTF-16/32
        end = body.rindex(b"}")
        return body[:end] + STREAM_USAGE_MEMBER + body[end:]
    return encode_json(asked)


def encode_json(obj: Any) -> bytes:
    """A rewritten request body, compact, in UTF-8 where it can be."""
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # ASCII escapes carry what UTF-8 cannot, such as a lone surrogate the client wrote as `\ud800`.
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


def parse_json(data: bytes) -> Any:
    """The JSON value, or None for anything that is not JSON the gateway can hold (also nesting too deep)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None
