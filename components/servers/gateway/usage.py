"""Read token counts out of runtime responses as they stream past, without delaying them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from slm_deploy.servers.gateway.limits import ByteBudget

# Lines are parsed only when they carry one of these markers. A chunk is first searched for the literal
# `MARKER_TEXTS`, which every marker contains, so ordinary token chunks cost two substring searches in C.
_USAGE_MARKER = re.compile(rb'"(?:usage|eval_count|prompt_eval_count)"')
MARKER_TEXTS = (b'"usage"', b'eval_count"')

# A marker whose member holds a value other than null: only such a line can carry token counts. The lines of a
# stream whose usage event stays (the client asked for it) are parsed only when they have one, so the
# `"usage": null` a runtime adds to every chunk then costs no parse.
_COUNT_VALUE = re.compile(rb'"(?:usage|eval_count|prompt_eval_count)"\s*:\s*+(?!null)')
# A chunk's `"usage": null` member, which a runtime adds to every chunk once usage is asked for.
_NULL_USAGE = re.compile(rb',\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,')
MAX_LINE_BYTES = 1 << 20
MAX_JSON_BODY_BYTES = 8 << 20
# Parsing JSON can take twenty times its size in objects; larger streamed requests go upstream as sent.
MAX_INJECTION_BODY_BYTES = 2 << 20
# The same bound for the end of a non-streamed answer parsed for its token counts (one parse runs at a time).
MAX_USAGE_PARSE_BYTES = 2 << 20
# A token-count member name followed by its colon: outside strings (a quote inside a JSON string is escaped).
_COUNT_MEMBER = re.compile(rb'"(?:usage|eval_count|prompt_eval_count)"\s*:')
# Members tried as the first top-level count member; one nested deeper fails its parse, and the next is tried.
MAX_COUNT_MEMBER_ATTEMPTS = 8
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


def usage_from_event(obj: Any, previous: TokenUsage | None) -> TokenUsage | None:
    """Token counts from one streamed event, including the Responses and Anthropic Messages event shapes.

    A Responses stream reports usage in `response.completed` (`response.usage`); an Anthropic Messages stream
    reports input tokens in `message_start` (`message.usage`) and the running output count in `message_delta`.
    """
    if not isinstance(obj, dict):
        return None
    nested = obj.get("response", obj.get("message"))
    if isinstance(nested, dict) and isinstance(nested.get("usage"), dict):
        return usage_from_object(nested)
    usage = obj.get("usage")
    if obj.get("type") == "message_delta" and isinstance(usage, dict):
        output = _count(usage.get("output_tokens"))
        prompt = _count(usage.get("input_tokens", previous.input_tokens if previous else 0))
        if output is not None and prompt is not None:
            return TokenUsage(prompt, output)
        return None
    return usage_from_object(obj)


def _is_usage_only_event(obj: Any) -> bool:
    """The extra final SSE chunk a runtime sends for `include_usage`: usage and no choices."""
    return isinstance(obj, dict) and obj.get("choices") == [] and isinstance(obj.get("usage"), dict)


def _names_a_marker(data: bytes) -> bool:
    """Whether `data` may hold a marker: two substring searches in C, no regular expression."""
    return MARKER_TEXTS[0] in data or MARKER_TEXTS[1] in data


class LineStreamTap:
    """Watches SSE or newline-delimited JSON for usage; holds back at most one unfinished line.

    When the gateway itself asked the runtime for usage, `drop_usage_event` removes that extra
    event and the `"usage": null` the runtime adds to every other chunk, so the client sees the
    stream it asked for.
    """

    def __init__(self, drop_usage_event: bool = False) -> None:
        self.usage: TokenUsage | None = None
        self._drop = drop_usage_event
        # Dropping rewrites every line with a usage member; otherwise only lines with counts are read.
        self._markers = _USAGE_MARKER if drop_usage_event else _COUNT_VALUE
        self._tail = b""
        self._skip_blank = False

    def feed(self, chunk: bytes) -> bytes:
        """Take bytes from the runtime; return the bytes to send to the client now."""
        if self._tail or self._skip_blank or not chunk.endswith(b"\n"):
            return self._feed_lines(chunk)
        if _names_a_marker(chunk):
            return self._scan(chunk)
        return chunk  # whole lines without a marker: passed on as they are, nothing copied

    def _feed_lines(self, chunk: bytes) -> bytes:
        """`feed` for a chunk that completes a held line, ends inside one, or follows a dropped event."""
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) > MAX_LINE_BYTES:
                self._tail = b""
                return data
            self._tail = data
            return b""
        complete, self._tail = data[: end + 1], data[end + 1 :]
        if not self._skip_blank and not _names_a_marker(complete):
            return complete
        return self._scan(complete)

    def finish(self) -> bytes:
        """The stream ended: release any unfinished last line (and read it for usage)."""
        tail, self._tail = self._tail, b""
        if tail and self._markers.search(tail):
            self._read_usage(tail.strip())
        return tail

    def _read_usage(self, line: bytes) -> Any:
        """Parse one line (SSE `data:` or bare JSON); record any usage; return the object, or None."""
        payload = line[5:].strip() if line.startswith(b"data:") else line
        obj = parse_json(payload)
        found = usage_from_event(obj, self.usage)
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
        for marker in self._markers.finditer(complete, searched):
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
    """Keeps a bounded copy of a non-streamed JSON body to read its usage at the end.

    Every copied byte is reserved in a gateway-wide budget first; past it, or past the per-body bound,
    the copy is dropped and `unread_reason` says why the tokens of this answer are unknown.
    """

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self._parts: list[bytes] = []
        self._size = 0
        self._usage: TokenUsage | None = None
        self.unread_reason = ""

    def feed(self, chunk: bytes) -> bytes:
        """Copy the chunk (within both bounds) and pass it on unchanged."""
        if not self.unread_reason:
            if self._size + len(chunk) > MAX_JSON_BODY_BYTES:
                self._give_up("too_large")
            elif not self._budget.try_reserve(len(chunk)):
                self._give_up("copy_budget")
            else:
                self._parts.append(chunk)
                self._size += len(chunk)
        return chunk

    def finish(self) -> bytes:
        """The body is complete: read its usage from its end and free the copy; nothing is held back."""
        if self._parts:
            end = self._end()
            self._usage = usage_from_answer_end(end)
            if self._usage is None and self._size > len(end) and any(map(_USAGE_MARKER.search, self._parts)):
                self.unread_reason = "too_large"  # the counts are further from the end than the gateway parses
        self.release()
        return b""

    def _end(self) -> bytes:
        """The last MAX_USAGE_PARSE_BYTES of the body, joined from the fewest parts."""
        taken, size = [], 0
        for part in reversed(self._parts):
            taken.append(part)
            size += len(part)
            if size >= MAX_USAGE_PARSE_BYTES:
                break
        return b"".join(reversed(taken))[-MAX_USAGE_PARSE_BYTES:]

    def release(self) -> None:
        """Drop the copy and return its bytes to the budget (safe to call more than once)."""
        self._budget.release(self._size)
        self._size = 0
        self._parts.clear()

    def _give_up(self, reason: str) -> None:
        self.unread_reason = reason
        self.release()

    @property
    def usage(self) -> TokenUsage | None:
        """Token counts from the whole body, once it was read by `finish`."""
        return self._usage


def usage_from_answer_end(end: bytes) -> TokenUsage | None:
    """Token counts from the end of a JSON object: the members from its first top-level count member on.

    Runtimes put `usage` (or Ollama's counts) among the last members, after the choices, embeddings or output, so
    `{` and the rest from that member parse as an object of the last members, whatever came before them; a member
    nested deeper leaves unbalanced brackets and fails. Parsing only this end keeps the parse's objects small
    however large the answer.
    """
    for attempt, member in enumerate(_COUNT_MEMBER.finditer(end)):
        if attempt == MAX_COUNT_MEMBER_ATTEMPTS:
            break
        found = usage_from_object(parse_json(b"{" + end[member.start():]))
        if found is not None:
            return found
    return None


# Strings pydantic (vLLM's request models) reads as true in a boolean field.
_TRUE_STRINGS = frozenset({"1", "on", "t", "true", "y", "yes"})


class UnreadableRequest(Exception):
    """A generation request body the gateway cannot read as the runtime would, so cannot tell whether it streams."""


class _Members(dict[str, Any]):
    """A JSON object that also keeps its members in order with duplicates, as Go's decoder sees them."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _is_true(value: Any) -> bool:
    """Whether a runtime reads the value as true: JSON true, or what pydantic's lax boolean accepts as true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return isinstance(value, str) and value.lower() in _TRUE_STRINGS


def with_stream_usage(obj: Any, is_true: Callable[[Any], bool] = _is_true) -> dict[str, Any] | None:
    """For a streamed OpenAI request object that did not ask for usage, the same request asking for it.

    `is_true` is how the runtime reads a boolean member: pydantic's lax rule, or Python's truth for a runtime that
    only tests `if body.get("stream")`.
    """
    if not isinstance(obj, dict) or not is_true(obj.get("stream")):
        return None
    options = obj.get("stream_options")
    if options is not None and not isinstance(options, dict):
        return None
    if options and is_true(options.get("include_usage")):
        return None
    asked = {**(options or {}), "include_usage": True}
    if options and is_true(options.get("continuous_usage_stats")):
        # vLLM adds usage to every chunk only when include_usage is on too: without it the client gets none.
        asked["continuous_usage_stats"] = False
    return {**obj, "stream_options": asked}


# The only runes outside ASCII whose fold in Go's encoding/json is an ASCII letter: KELVIN SIGN and LONG S share
# their orbits under unicode.SimpleFold with k/K and s/S. Every other rune (U+0131 dotless i, U+0130 among them,
# whose orbits hold only themselves) folds to a rune outside ASCII, so it never matches an ASCII field name.
_GO_ASCII_FOLDS = {"\u212a": "K", "\u017f": "S"}


def _go_fold(name: str) -> str:
    """A member name as Go's encoding/json folds it (each rune to the smallest of its SimpleFold orbit), exact when
    compared with an ASCII field name: ASCII letters upper-cased, KELVIN SIGN and LONG S to K and S, others kept."""
    return "".join(_GO_ASCII_FOLDS.get(char, char.upper() if "a" <= char <= "z" else char) for char in name)


class _GoDecodeError(Exception):
    """Go's decoder refuses the value for the field (a string into a bool, say): the runtime answers 400 itself."""


def _go_bool(obj: _Members, name: str, value: bool = False) -> bool:
    """The bool field `name` after Go decodes every member that folds to it in order: null leaves it unchanged."""
    wanted = _go_fold(name)
    for key, member in obj.pairs:
        if _go_fold(key) == wanted and member is not None:
            if not isinstance(member, bool):
                raise _GoDecodeError
            value = member
    return value


def _go_stream_options(obj: _Members) -> tuple[bool, bool, dict[str, Any]]:
    """Go's `StreamOptions *struct{IncludeUsage bool}` after every member: whether it is set, its include_usage, and
    the other members of the objects decoded into it (null resets the pointer; an object decodes into the struct
    already there)."""
    wanted = _go_fold("stream_options")
    present, include = False, False
    others: dict[str, Any] = {}
    for key, member in obj.pairs:
        if _go_fold(key) != wanted:
            continue
        if member is None:
            present, include, others = False, False, {}
        elif isinstance(member, _Members):
            present = True
            include = _go_bool(member, "include_usage", include)
            others.update((k, v) for k, v in member.pairs if _go_fold(k) != _go_fold("include_usage"))
        else:
            raise _GoDecodeError
    return present, include, others


def _with_go_stream_usage(obj: _Members) -> dict[str, Any] | None:
    """`with_stream_usage` for a runtime that decodes with Go: names matched as Go folds them, null into a bool
    ignored, the last value of every other member kept."""
    try:
        streams = _go_bool(obj, "stream")
        present, include, others = _go_stream_options(obj)
    except _GoDecodeError:
        return None
    if not streams or (present and include):
        return None
    own = {k: v for k, v in obj.items() if _go_fold(k) not in (_go_fold("stream"), _go_fold("stream_options"))}
    return {**own, "stream": True, "stream_options": {**others, "include_usage": True}}


def request_usage_injection(body: bytes, fold_keys: bool = False) -> bytes | None:
    """For a streamed OpenAI request body that did not ask for usage, the same request asking for it.

    Whether it streams is decided on the body as the runtime reads it: JSON escapes decoded, and with `fold_keys`
    member names compared the way Go's decoder does. Only a plain ASCII body without a backslash, a NUL and
    `stream` in any case skips the parse. A body is read as Python's json reads bytes (UTF-8, UTF-16 or UTF-32,
    as vLLM reads it), or for Go as UTF-8 only; one that is not a JSON object then raises `UnreadableRequest`.
    A UTF-8 body without `stream_options` keeps the client's bytes: the member is spliced in before the closing
    brace.
    """
    if len(body) > MAX_INJECTION_BODY_BYTES:
        return None
    # Searched from the end, where clients put `stream` after the messages; lower() copies only a body without it.
    if body.rfind(b"stream") < 0 and body.isascii() and b"\\" not in body and b"\0" not in body \
            and b"stream" not in body.lower():
        return None  # UTF-8 text (no NUL of UTF-16/32) that spells no member `stream` in any way
    try:
        obj = json.loads(body.decode("utf-8"), object_pairs_hook=_Members) if fold_keys else json.loads(body)
    except (ValueError, RecursionError):
        raise UnreadableRequest from None
    if not isinstance(obj, dict):
        raise UnreadableRequest
    asked = _with_go_stream_usage(obj) if isinstance(obj, _Members) else with_stream_usage(obj)
    if asked is None:
        return None
    if fold_keys and any(_go_fold(key) == _go_fold("stream_options") for key in obj) or "stream_options" in obj:
        return encode_json(asked)  # the client's own options are kept beside include_usage
    if b"\0" in body or not body.lstrip(JSON_WHITESPACE).startswith(b"{"):  # a byte-order mark, UTF-16 or UTF-32
        return encode_json(asked)
    end = body.rindex(b"}")  # the spliced member comes last, so it wins over any earlier spelling
    view = memoryview(body)
    return b"".join((view[:end], STREAM_USAGE_MEMBER, view[end:]))  # one copy of the client's bytes


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
