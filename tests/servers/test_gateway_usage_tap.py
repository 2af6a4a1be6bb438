"""The usage tap's and the access log's cheap paths give exactly what a full parse and json.dumps give."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from slm_deploy.servers.gateway import usage
from slm_deploy.servers.gateway.logs import AccessLog
from slm_deploy.servers.gateway.usage import LineStreamTap, TokenUsage, request_usage_injection

# An OpenAI-style stream whose client asked for usage itself: every chunk carries `"usage": null` (spelled as
# runtimes spell it, with and without spaces), the last event the counts.
CHUNK = b'data: {"choices":[{"delta":{"content":"%d"}}],"usage":null}\n\n'
SPACED_CHUNK = b'data: {"choices":[{"delta":{"content":"%d"}}], "usage" : null }\n\n'
USAGE_EVENT = b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":24}}\n\n'
ASKED_STREAM = b"".join((CHUNK if i % 2 else SPACED_CHUNK) % i for i in range(24)) + USAGE_EVENT + b"data: [DONE]\n\n"


def _tap(stream: bytes, size: int, drop: bool = False) -> tuple[bytes, LineStreamTap]:
    tap = LineStreamTap(drop_usage_event=drop)
    out = b"".join(tap.feed(stream[i:i + size]) for i in range(0, len(stream), size)) + tap.finish()
    return out, tap


def test_a_stream_whose_usage_stays_is_relayed_as_sent_and_parsed_only_where_its_counts_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []
    parse = usage.parse_json

    def counting_parse(data: bytes) -> Any:
        parsed.append(data)
        return parse(data)

    monkeypatch.setattr(usage, "parse_json", counting_parse)
    for size in (len(ASKED_STREAM), len(CHUNK), 7, 1):
        parsed.clear()
        out, tap = _tap(ASKED_STREAM, size)
        assert out == ASKED_STREAM, f"chunk size {size}"
        assert tap.usage == TokenUsage(9, 24)
        assert parsed == [USAGE_EVENT.strip()[5:].strip()], f"chunk size {size}"  # not one of the 24 null chunks


@pytest.mark.parametrize(("stream", "expected"), [
    (b'{"response":"a","usage":null,"done":false}\n{"done":true,"usage":null,"prompt_eval_count":3,"eval_count":8}\n',
     TokenUsage(3, 8)),
    (b'event: response.created\ndata: {"type":"response.created","response":{"usage":null}}\n\n'
     b'event: response.completed\ndata: {"type":"response.completed","usage":null,'
     b'"response":{"usage" :{"input_tokens":5,"output_tokens":7}}}\n\n', TokenUsage(5, 7)),
    (b'event: message_start\ndata: {"type":"message_start","message":{"usage": {"input_tokens":11,'
     b'"output_tokens":1}}}\n\nevent: message_delta\ndata: {"type":"message_delta","usage":\t{"output_tokens":6}}\n\n',
     TokenUsage(11, 6)),
], ids=["ollama", "responses", "messages"])
def test_counts_beside_or_after_a_null_usage_are_read_however_the_stream_is_cut(
        stream: bytes, expected: TokenUsage) -> None:
    for size in range(1, len(stream) + 1):
        out, tap = _tap(stream, size)
        assert out == stream and tap.usage == expected, f"chunk size {size}"


# What the client of a stream the gateway asked usage for gets: no usage event, no null usage member.
RELAYED_WITHOUT_USAGE = b"".join(
    (b'data: {"choices":[{"delta":{"content":"%d"}}]}\n\n' if i % 2 else b'data: {"choices":[{"delta":{"content":"%d"}}] }\n\n') % i
    for i in range(24)) + b"data: [DONE]\n\n"


def test_a_dropped_usage_event_goes_however_the_stream_is_cut() -> None:
    for size in range(1, len(ASKED_STREAM) + 1, 5):
        out, tap = _tap(ASKED_STREAM, size, drop=True)
        assert out == RELAYED_WITHOUT_USAGE, f"chunk size {size}"
        assert tap.usage == TokenUsage(9, 24)


def test_a_large_body_is_read_for_stream_wherever_the_member_is() -> None:
    messages = b'"messages":[{"role":"user","content":"' + b"word " * 20_000 + b'"}]'
    for body in (b'{"stream":true,' + messages + b"}", b"{" + messages + b',"stream":true}'):
        assert request_usage_injection(body) == body[:-1] + b',"stream_options":{"include_usage":true}}'
    assert request_usage_injection(b'{"Stream":true,' + messages + b"}", fold_keys=True) is not None
    assert request_usage_injection(b'{"Stream":true,' + messages + b"}") is None
    assert request_usage_injection(b'{"stream":false,' + messages + b"}") is None


def test_an_access_log_line_is_byte_for_byte_what_json_dumps_writes() -> None:
    fields: dict[str, object] = {
        "method": "POST", "route": '/v1/"quoted"\\path', "status": 499, "key_id": "caf\u00e9-\u2028-\ud800",
        "duration_ms": 12.345, "ttft_ms": 1e-05, "input_tokens": 8, "output_tokens": 10**20, "reason": "",
        "large": 1e22, "flag": True, "none": None, "nan": float("nan"),
    }
    stream = io.StringIO()
    access = AccessLog()
    access.stream = stream

    async def one_request() -> None:
        access.write(fields)

    asyncio.run(one_request())
    line = stream.getvalue()
    written_at = json.loads(line)["ts"]
    entry = {"ts": written_at, "level": "info", "logger": "slm_gateway.access", **fields}
    assert line == json.dumps(entry, separators=(",", ":")) + "\n"
