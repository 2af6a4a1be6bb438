"""The gateway's pure parts: key file, limits, usage taps, config rendering and the image context."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from slm_deploy.servers.gateway import (
    GatewayConfig,
    GatewayConfigError,
    gateway_sources,
    gateway_command,
    load_config,
    render_gateway_config,
)
from slm_deploy.servers.gateway.keys import KeyFileError, KeyStore, parse_key_file, read_key_file
from slm_deploy.servers.gateway.limits import BucketTable, ByteBudget, ConcurrencyGate, TokenBucket
from slm_deploy.servers.gateway.logs import AccessLog, JsonFormatter
from slm_deploy.servers.gateway.request_fields import restrict_request_fields
from slm_deploy.servers.gateway.usage import (
    MAX_INJECTION_BODY_BYTES, MAX_USAGE_PARSE_BYTES, JsonBodyTap, LineStreamTap, TokenUsage, UnreadableRequest, _go_fold, request_usage_injection,
    usage_from_object,
)

SECRET = "sk-unit-secret-value-1234567890abcdef"
OTHER = "sk-other-0123456789abcdef0123456789"


# -- key file --------------------------------------------------------------------------------


def test_key_file_identifies_each_key_by_id() -> None:
    keys = parse_key_file(f"# comment\n\nalice:{SECRET}\nbob : {OTHER}\n")
    assert keys.key_ids == ("alice", "bob")
    assert keys.identify(SECRET) == "alice"
    assert keys.identify(OTHER) == "bob"
    assert keys.identify(SECRET + "x") is None
    assert keys.identify("") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"{SECRET}\n", "line 1: expected 'key_id:key' with exactly one ':'"),
        (f"{SECRET}:alice\n", "line 1: the key id must be"),  # written the wrong way round
        (f"{SECRET}:alice-production-client-eu\n", "line 1: the key id must be"),
        (f"alice:{SECRET}:x\n", "line 1: expected 'key_id:key' with exactly one ':'"),
        (f"bad id:{SECRET}\n", "line 1: the key id must be"),
        ("alice:sk-too-short-12345\n", "line 1: the key must be at least 32"),
        (f"alice:{SECRET}\nalice:{OTHER}\n", "line 2: the key id of line 1 is used again"),
        (f"alice:{SECRET}\nbob:{SECRET}\n", "line 2: the key of line 1 is listed again"),
        ("# only comments\n\n", "no keys"),
        (f"\ufeffalice:{SECRET}\n", "line 1: starts with a byte-order mark"),
        (f'alice:"{SECRET}"\n', "line 1: the key is wrapped in quotes"),
        (f"alice:'{SECRET}'\n", "line 1: the key is wrapped in quotes"),
    ],
)
def test_key_file_errors_name_the_line_never_what_is_on_it(text: str, fragment: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_key_file(text)
    message = str(caught.value)
    assert fragment in message
    for value in (SECRET, OTHER, "alice", "bob", "sk-too-short", "production"):
        assert value not in message


def test_no_line_written_key_first_can_make_the_key_an_id() -> None:
    """Ids are at most 31 characters and keys at least 32, so `key:id` never loads either way round."""
    for key in (SECRET, "A" * 32, "0123456789abcdef" * 2, OTHER):
        for key_id in ("alice", "open-webui", "a" * 31):
            with pytest.raises(KeyFileError):
                parse_key_file(f"{key}:{key_id}\n")


def _store(tmp_path: Path, text: str, now: list[float], events: list[str], interval: float = 1.0) -> KeyStore:
    path = tmp_path / "keys"
    path.write_text(text)
    return KeyStore(str(path), interval, lambda result, keys: events.append(result), clock=lambda: now[0])


def test_key_store_loads_a_change_only_once_it_has_settled(tmp_path: Path) -> None:
    now, events = [100.0], []
    store = _store(tmp_path, f"alice:{SECRET}\n", now, events)
    (tmp_path / "keys").write_text(f"bob:{SECRET}\n")
    assert store.keys.key_ids == ("alice",)  # interval not yet passed
    now[0] += 1.0
    assert store.keys.key_ids == ("alice",)  # first seen now: not settled
    now[0] += 1.0
    assert store.keys.key_ids == ("bob",)
    assert events == ["loaded", "loaded"]


def test_key_store_keeps_keys_on_a_bad_or_missing_file_and_reports_each_once(tmp_path: Path) -> None:
    now, events = [100.0], []
    store = _store(tmp_path, f"alice:{SECRET}\n", now, events)
    (tmp_path / "keys").write_text("garbage\n")
    for _ in range(4):
        now[0] += 1.0
        assert store.keys.key_ids == ("alice",)
    (tmp_path / "keys").unlink()
    for _ in range(3):
        now[0] += 1.0
        assert store.keys.key_ids == ("alice",)
    assert events == ["loaded", "error", "error"]


def test_key_store_ignores_a_read_that_overlapped_a_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file's identity is checked after reading: a read racing a writer is thrown away, not loaded."""
    now, events = [100.0], []
    store = _store(tmp_path, f"alice:{SECRET}\n", now, events)
    path = tmp_path / "keys"
    path.write_text(f"bob:{SECRET}\n")  # what a reader could see half-way through a rewrite
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 0, 0, 0, 0)))
    for _ in range(3):
        now[0] += 1.0
        assert store.keys.key_ids == ("alice",)
    monkeypatch.setattr(os, "fstat", real_fstat)
    now[0] += 1.0
    assert store.keys.key_ids == ("alice",)  # the first whole read: not settled yet
    now[0] += 1.0
    assert store.keys.key_ids == ("bob",)
    assert events == ["loaded", "loaded"]  # the racing reads were not errors


def test_key_store_picks_up_a_same_size_edit_whose_mtime_was_restored(tmp_path: Path) -> None:
    """`cp -p`, `rsync --inplace -t` and `touch -r` leave size and mtime as they were; the content decides."""
    now, events = [100.0], []
    store = _store(tmp_path, f"alice:{SECRET}\n", now, events)
    path = tmp_path / "keys"
    before = path.stat()
    with path.open("r+b") as handle:  # in place: same inode, same size
        handle.write(b"carol")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        before.st_size, before.st_mtime_ns, before.st_ino)
    for _ in range(2):
        now[0] += 1.0
        store.keys  # noqa: B018 - look at the file
    assert store.keys.key_ids == ("carol",)
    assert events == ["loaded", "loaded"]


def test_key_file_read_refuses_what_is_not_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_bytes(b"alice:" + b"\xff" * 40 + b"\n")
    with pytest.raises(KeyFileError, match="not UTF-8"):
        read_key_file(str(path))
    path.write_bytes(b"#" * (1 << 20) + b"\n")
    with pytest.raises(KeyFileError, match="larger than"):
        read_key_file(str(path))


# -- limits ----------------------------------------------------------------------------------


def test_token_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take(0.0) == pytest.approx(0.5)
    assert bucket.try_take(0.5) == 0.0
    assert bucket.try_take(0.5) == pytest.approx(0.5)


def test_concurrency_gate_hands_the_slot_to_the_queued_request_in_order() -> None:
    async def scenario() -> list[str]:
        gate = ConcurrencyGate(limit=1, max_queue=2, queue_timeout=5.0)
        order: list[str] = []
        assert gate.try_enter()
        assert not gate.try_enter()

        async def queued(name: str) -> None:
            assert await gate.wait()
            order.append(name)
            gate.leave()

        tasks = [asyncio.create_task(queued("first")), asyncio.create_task(queued("second"))]
        await asyncio.sleep(0)
        assert gate.queued == 2 and not gate.can_queue()
        gate.leave()
        await asyncio.gather(*tasks)
        assert gate.active == 0 and gate.queued == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_concurrency_gate_times_out_a_waiter_without_leaking_the_slot() -> None:
    async def scenario() -> tuple[bool, int]:
        gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout=0.01)
        gate.try_enter()
        admitted = await gate.wait()
        gate.leave()
        return admitted, gate.active

    assert asyncio.run(scenario()) == (False, 0)


class _ManualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when the test moves it, so timers fall due together."""

    now = 0.0

    def time(self) -> float:
        return self.now


async def _wait_for_as_in_python_3_12(awaitable: Any, timeout: float) -> Any:
    """asyncio.wait_for's behaviour from Python 3.12 on (the gateway image's Python): a timeout context."""
    async with asyncio.timeout(timeout):
        return await awaitable


@pytest.mark.parametrize("hand_over_first", [True, False])
@pytest.mark.parametrize("wait_for_3_12", [False, True])
def test_concurrency_gate_never_loses_a_slot_when_the_deadline_and_a_hand_over_coincide(
    hand_over_first: bool, wait_for_3_12: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both fall due in one loop iteration, under either Python's asyncio; no slot may be lost."""
    if wait_for_3_12:
        monkeypatch.setattr(asyncio, "wait_for", _wait_for_as_in_python_3_12)
    loop = _ManualClockLoop()

    async def scenario() -> tuple[bool, int, int]:
        gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout=1.0)
        assert gate.try_enter()
        waiting = asyncio.create_task(gate.wait())
        await asyncio.sleep(0)
        loop.call_at(0.5 if hand_over_first else 1.5, gate.leave)
        loop.now = 2.0
        admitted = await waiting
        if admitted:
            gate.leave()
        return admitted, gate.active, gate.queued

    try:
        admitted, active, queued = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert (active, queued) == (0, 0)
    if hand_over_first:
        assert admitted, "a slot handed over before the deadline is used"


def test_unauthenticated_requests_share_a_bucket_per_address_in_a_bounded_table() -> None:
    now = [0.0]
    peers = BucketTable(rate_per_second=1.0, burst=2, max_entries=2, clock=lambda: now[0])
    assert [peers.retry_after("10.0.0.1") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert peers.retry_after("10.0.0.2") == 0.0
    assert peers.retry_after("10.0.0.3") == 0.0  # the table is full: the least recently seen address goes
    assert peers.retry_after("10.0.0.1") == 0.0  # forgotten, so it starts with a full bucket again
    now[0] += 1.0
    assert peers.retry_after("10.0.0.3") == 0.0


# -- usage -----------------------------------------------------------------------------------

SSE = (
    b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}\n\n'
    b"data: [DONE]\n\n"
)
SSE_WITHOUT_USAGE = SSE.replace(
    b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}\n\n', b""
)


@pytest.mark.parametrize("drop", [True, False])
def test_sse_tap_gives_the_same_result_whatever_the_chunking(drop: bool) -> None:
    expected = SSE_WITHOUT_USAGE if drop else SSE
    for size in range(1, len(SSE) + 1):
        tap = LineStreamTap(drop_usage_event=drop)
        out = b"".join(tap.feed(SSE[i : i + size]) for i in range(0, len(SSE), size)) + tap.finish()
        assert out == expected, f"chunk size {size}"
        assert tap.usage == TokenUsage(9, 4)


def test_sse_tap_removes_the_null_usage_the_runtime_adds_only_when_the_gateway_asked() -> None:
    asked = SSE.replace(b'"Hi"}}]}', b'"Hi"}}],"usage":null}').replace(b'""}}]}', b'""}}], "usage": null}')
    assert asked.count(b"null") == 2
    dropping = LineStreamTap(drop_usage_event=True)
    assert dropping.feed(asked) + dropping.finish() == SSE_WITHOUT_USAGE
    passing = LineStreamTap()
    assert passing.feed(asked) + passing.finish() == asked


def test_tap_keeps_the_last_cumulative_usage_and_ollama_counts() -> None:
    tap = LineStreamTap()
    tap.feed(b'data: {"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":9,"completion_tokens":1}}\n\n')
    tap.feed(b'data: {"choices":[{"delta":{"content":"b"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}\n\n')
    assert tap.usage == TokenUsage(9, 2)
    ollama = LineStreamTap()
    out = ollama.feed(b'{"response":"a","done":false}\n{"done":true,"prompt_eval_count":3,"eval_count":8}')
    assert out == b'{"response":"a","done":false}\n'
    assert ollama.finish().endswith(b'"eval_count":8}') and ollama.usage == TokenUsage(3, 8)


def test_usage_injection_survives_a_lone_surrogate() -> None:
    body = b'{"stream":true,"messages":[{"role":"user","content":"\\ud800"}]}'
    rewritten = request_usage_injection(body)
    assert rewritten is not None and json.loads(rewritten)["stream_options"] == {"include_usage": True}
    assert json.loads(rewritten)["messages"] == json.loads(body)["messages"]
    tap = LineStreamTap()
    assert tap.feed(b"data: " + body.replace(b'"stream"', b'"usage"') + b"\n") and tap.usage is None


def test_a_streamed_looking_body_the_gateway_cannot_read_is_refused_not_forwarded_uncounted() -> None:
    deep = b'{"stream":true,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body in (deep, b'{"stream":true', b'["stream"]', b'{"stream":true,"m":"\xff"}'):
        with pytest.raises(UnreadableRequest):
            request_usage_injection(body)
    tap = LineStreamTap()
    assert tap.feed(b"data: " + deep.replace(b'"stream"', b'"usage"') + b"\n") and tap.usage is None


def _tap_usage(body: bytes) -> tuple[TokenUsage | None, str]:
    tap = JsonBodyTap(ByteBudget(64 << 20))
    for start in range(0, len(body), 1 << 16):
        tap.feed(body[start:start + (1 << 16)])
    tap.finish()
    return tap.usage, tap.unread_reason


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"object":"list","data":[' + b'{"embedding":[0.125,0.5]},' * 200_000 + b'{}],"model":"m",'
     b'"usage":{"prompt_tokens":7,"total_tokens":7}}', TokenUsage(7, 0)),
    (b'{"model":"m","embeddings":[' + b'[0.125,0.5],' * 400_000 + b'[]],"total_duration":5,'
     b'"prompt_eval_count":9}', TokenUsage(9, 0)),
    (b'{"choices":[{"message":{"usage":{"prompt_tokens":99,"completion_tokens":99}}}],'
     b'"usage":{"prompt_tokens":3,"completion_tokens":4},"kv_transfer_params":null}', TokenUsage(3, 4)),
    (b'{"done":true,"prompt_eval_count":3,"eval_count":8,"eval_duration":1}', TokenUsage(3, 8)),
], ids=["large-embeddings", "large-ollama-embed", "nested-usage-first", "ollama"])
def test_a_json_answer_s_counts_are_read_from_its_last_members(body: bytes, expected: TokenUsage) -> None:
    assert _tap_usage(body) == (expected, "")


def test_counts_before_a_large_member_are_unread_rather_than_parsed_with_it() -> None:
    body = b'{"usage":{"prompt_tokens":1,"completion_tokens":1},"x":[' + b"[]," * 2_000_000 + b'[]]}'
    assert _tap_usage(body) == (None, "too_large")


def test_reading_a_json_answer_s_counts_stays_within_a_bounded_parse() -> None:
    """The worst answer for the parse (tiny objects, ~25x their size in Python) is parsed only in its last 2 MiB."""
    head = b'{"x":[' + b"[]," * 2_000_000 + b'[]],'
    body = head + b'"usage":{"prompt_tokens":1,"completion_tokens":2},"y":[' + b"[]," * 650_000 + b'[]]}'
    tap = JsonBodyTap(ByteBudget(64 << 20))
    for start in range(0, len(body), 1 << 16):
        tap.feed(body[start:start + (1 << 16)])
    tracemalloc.start()
    try:
        tap.finish()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tap.usage == TokenUsage(1, 2)
    assert peak < 30 * MAX_USAGE_PARSE_BYTES  # the whole 8 MiB answer parsed took ~200 MiB


def test_usage_ignores_malformed_counts() -> None:
    assert usage_from_object({"usage": {"prompt_tokens": "9", "completion_tokens": 1}}) is None
    assert usage_from_object({"eval_count": -1}) is None
    assert usage_from_object({"usage": {"prompt_tokens": 5, "total_tokens": 5}}) == TokenUsage(5, 0)  # embeddings


def test_usage_injection_only_for_streams_that_did_not_ask() -> None:
    assert request_usage_injection(b'{"stream":false}') is None
    assert request_usage_injection(b'{"stream":true,"stream_options":{"include_usage":true}}') is None
    rewritten = request_usage_injection(b'{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false}}')
    assert rewritten == b'{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":true}}'



def test_usage_injection_adds_one_member_and_keeps_every_byte_the_client_sent() -> None:
    body = b'{ "model" : "m",\n  "stream": true, "messages": [{"content": "caf\\u00e9 \xc3\xa9"}] }\r\n'
    rewritten = request_usage_injection(body)
    assert rewritten == body[: body.rindex(b"}")] + b',"stream_options":{"include_usage":true}' + b"}\r\n"
    assert json.loads(rewritten)["stream_options"] == {"include_usage": True}


def test_usage_injection_re_encodes_a_body_that_does_not_start_with_its_object() -> None:
    body = b'\xef\xbb\xbf{"stream": true, "messages": []}'  # a byte-order mark, which json.loads accepts
    rewritten = request_usage_injection(body)
    assert rewritten == b'{"stream":true,"messages":[],"stream_options":{"include_usage":true}}'


def _asks_usage(rewritten: bytes | None, fold_keys: bool = False) -> bool:
    """Whether the rewritten body asks for usage as the runtime reads it (Go: last member in any case wins)."""
    assert rewritten is not None
    pairs: list[tuple[str, object]] = json.loads(rewritten, object_pairs_hook=lambda p: p)
    options = [v for k, v in pairs if (k.lower() if fold_keys else k) == "stream_options"][-1]
    assert isinstance(options, list)
    return [v for k, v in options if (k.lower() if fold_keys else k) == "include_usage"][-1] is True


@pytest.mark.parametrize("body", [
    b'{"model":"m","messages":[{"role":"user","content":"hi"}],"strea\\u006d":true}',
    b'{"model":"m","messages":[],"stream":true,"stream":true}',
    b'{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":false}}',
    b'{"model":"m","messages":[],"stream":true,"stream_options":{"include_usag\\u0065":false}}',
    b'\xef\xbb\xbf{"model":"m","messages":[],"stream":true}',
    '{"model":"m","messages":[],"stream":true}'.encode("utf-16"),
    '{"model":"m","messages":[],"stream":true}'.encode("utf-32-le"),
    b'{"model":"m","messages":[],"stream":"true"}',
    b'{"model":"m","messages":[],"stream":1}',
], ids=["escaped-key", "duplicate", "usage-false", "escaped-option", "bom", "utf-16", "utf-32", "string", "one"])
def test_every_body_python_reads_as_streamed_asks_for_usage(body: bytes) -> None:
    assert _asks_usage(request_usage_injection(body))


@pytest.mark.parametrize("body", [
    b'{"model":"m","messages":[],"Stream":true}',
    b'{"model":"m","messages":[],"STREAM":true,"stream_options":{"continuous":1}}',
    '{"model":"m","messages":[],"\u017ftream":true}'.encode(),  # LATIN SMALL LETTER LONG S folds to "S" in Go
    b'{"model":"m","messages":[],"stream":false,"Stream":true}',
    b'{"model":"m","messages":[],"Stream":true,"stream_options":{"include_usage":true},"Stream_Options":null}',
    b'{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"Include_Usage":false}}',
    b'{"model":"m","messages":[],"strea\\u004d":true}',
    b'{"model":"m","messages":[],"stream":true,"stream":null}',  # null into a Go bool leaves it as it was
    b'{"model":"m","messages":[],"Stream":true,"stream":null}',
    b'{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"include_usage":null},'
    b'"stream_options":null}',
    # U+0131 DOTLESS I folds to itself in Go: these members are unknown to Ollama, which then sends no usage.
    '{"model":"m","messages":[],"stream":true,"stream_opt\u0131ons":{"include_usage":true}}'.encode(),
    '{"model":"m","messages":[],"stream":true,"stream_options":{"\u0131nclude_usage":true}}'.encode(),
], ids=["capital", "upper-with-options", "long-s", "later-wins", "options-respelled", "include-respelled", "escape",
        "true-then-null", "capital-then-null", "options-then-null", "dotless-i-options", "dotless-i-include"])
def test_every_body_go_reads_as_streamed_asks_for_usage(body: bytes) -> None:
    assert _asks_usage(request_usage_injection(body, fold_keys=True), fold_keys=True)


def test_go_spellings_leave_a_body_go_reads_as_not_streamed_alone() -> None:
    # LONG S folds to "S": Ollama reads include_uſage as include_usage, so the client already asked for usage.
    asked = '{"stream":true,"stream_options":{"include_u\u017fage":true}}'.encode()
    assert request_usage_injection(asked, fold_keys=True) is None
    # A later object decodes into the StreamOptions already there: include_usage stays true.
    assert request_usage_injection(b'{"stream":true,"stream_options":{"include_usage":true},"stream_options":{}}',
                                   fold_keys=True) is None
    assert request_usage_injection(b'{"stream":null}', fold_keys=True) is None
    assert request_usage_injection(b'{"stream":"true"}', fold_keys=True) is None  # Go refuses a string into a bool
    assert request_usage_injection(b'{"Stream":true,"stream":false}', fold_keys=True) is None
    assert request_usage_injection(b'{"Stream":true,"Stream_options":{"INCLUDE_USAGE":true}}', fold_keys=True) is None
    assert request_usage_injection(b'{"Stream":true}') is None  # pydantic and Python runtimes match names exactly


def test_member_names_fold_as_go_folds_them() -> None:
    """Go folds each rune to the smallest of its unicode.SimpleFold orbit: KELVIN SIGN and LONG S reach K and S;
    U+0130 and U+0131 are orbits of their own, so neither matches an ASCII i."""
    assert _go_fold("\u212a") == _go_fold("k") == _go_fold("K") == "K"
    assert _go_fold("\u017ftream") == _go_fold("stream") == "STREAM"
    assert _go_fold("\u0131nclude_usage") != _go_fold("include_usage")
    assert _go_fold("\u0130nclude_usage") != _go_fold("include_usage")


def test_go_rewrite_keeps_the_clients_other_options() -> None:
    rewritten = request_usage_injection(b'{"Stream":true,"Stream_Options":{"x":1,"include_usage":false}}', True)
    assert rewritten == b'{"stream":true,"stream_options":{"x":1,"include_usage":true}}'


def test_usage_injection_keeps_non_ascii_text_as_compact_as_the_client_sent_it() -> None:
    body = json.dumps({"stream": True, "messages": [{"role": "user", "content": "\U0001F600\u4e2d" * 1000}]},
                      ensure_ascii=False).encode()
    rewritten = request_usage_injection(body)
    assert rewritten is not None and len(rewritten) < len(body) + 64  # not tripled by \u escapes


def test_usage_injection_leaves_bodies_too_large_to_parse_cheaply_as_sent() -> None:
    body = b'{"stream":true,"x":[' + b"{}," * (MAX_INJECTION_BODY_BYTES // 3) + b'{}]}'
    assert request_usage_injection(body) is None


def test_an_access_log_line_is_one_json_object_with_its_fields_at_the_top() -> None:
    fields = {"method": "POST", "route": "/v1/chat/completions", "status": 200, "key_id": "alice", "ttft_ms": 1.5}
    stream = io.StringIO()
    access = AccessLog()
    access.stream = stream

    async def two_requests() -> None:
        access.write(fields)
        access.write({**fields, "status": 429})
        await asyncio.sleep(0)

    asyncio.run(two_requests())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [{k: line[k] for k in fields} for line in lines] == [fields, {**fields, "status": 429}]
    assert all((line["level"], line["logger"]) == ("info", "slm_gateway.access") for line in lines)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"]) for line in lines)
    plain = logging.LogRecord("slm_gateway", logging.WARNING, "", 0, "upstream request failed: %s", ("X",), None)
    assert json.loads(JsonFormatter().format(plain))["msg"] == "upstream request failed: X"


def test_body_budget_reserves_only_what_fits_and_gets_it_back() -> None:
    budget = ByteBudget(100)
    assert budget.try_reserve(60) and not budget.try_reserve(41) and budget.try_reserve(40)
    assert budget.reserved == 100
    budget.release(60)
    assert budget.try_reserve(41) and budget.reserved == 81


def test_config_refuses_a_body_budget_smaller_than_one_largest_body() -> None:
    with pytest.raises(GatewayConfigError, match="max_in_flight_body_bytes"):
        GatewayConfig(upstream_url="http://r:1", key_file="/k", route_table="vllm",
                      max_request_body_bytes=4096, max_in_flight_body_bytes=4095)


def test_config_refuses_a_negative_usage_copy_budget() -> None:
    with pytest.raises(GatewayConfigError, match="max_usage_copy_bytes"):
        GatewayConfig(upstream_url="http://r:1", key_file="/k", route_table="vllm", max_usage_copy_bytes=-1)


# -- config and rendering ----------------------------------------------------------------------


def _render(**overrides: object) -> str:
    args: dict[str, object] = dict(
        upstream="http://runtime:8000", route_table="vllm", listen_port=8080, key_file="/run/secrets/gateway-keys",
        rate_per_second=5, burst=10, max_concurrency=4,
    )
    args.update(overrides)
    return render_gateway_config(**args)["gateway.toml"]  # type: ignore[arg-type]


def test_rendered_config_is_deterministic_and_loads_back(tmp_path: Path) -> None:
    text = _render()
    assert text == _render()
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    config = load_config(path)
    assert config == GatewayConfig(
        upstream_url="http://runtime:8000", route_table="vllm", listen_port=8080,
        key_file="/run/secrets/gateway-keys", rate_per_second=5.0, burst=10, max_concurrency=4,
    )
    assert config.metrics_host == "127.0.0.1"  # metrics stay on loopback unless a deployment asks
    assert gateway_command() == ["python", "-m", "slm_deploy.servers.gateway", "--config", "/etc/slm-gateway/gateway.toml"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"exempt_paths": ("/v1/models",)}, "exempt_paths"),
        ({"exempt_paths": ("/",)}, "exempt_paths"),  # a health-style path vLLM does not serve
        ({"route_table": "nginx"}, "route_table"),
        ({"metrics_port": 8080}, "metrics_port"),
        ({"upstream": "runtime:8000"}, "upstream_url"),
        ({"upstream": "http://user:pw@runtime:8000"}, "credentials"),
        ({"rate_per_second": 5, "burst": 0}, "burst"),
        ({"max_concurrency": 0, "max_queue": 2}, "max_queue"),
        ({"tls_cert_file": "/tls/crt"}, "tls"),
    ],
)
def test_render_rejects_unsafe_settings(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        _render(**overrides)
    assert fragment in str(caught.value)
    assert "pw" not in str(caught.value)


def test_config_file_rejects_unknown_settings(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(_render().replace("[limits]\n", "[limits]\nrate = 3\n"))
    with pytest.raises(GatewayConfigError, match=r"limits\.rate: unknown setting"):
        load_config(path)


@pytest.mark.parametrize(
    ("section", "setting"),
    [("listen", "header_timeout_seconds = 0.0"), ("listen", "max_connections = 0"),
     ("auth", "unauthenticated_burst = 0")],
)
def test_config_file_refuses_settings_that_would_let_clients_hold_the_gateway(
    tmp_path: Path, section: str, setting: str
) -> None:
    path = tmp_path / "gateway.toml"
    name = setting.split(" ")[0]
    text = "\n".join(line for line in _render().splitlines() if not line.startswith(f"{name} ="))
    path.write_text(text.replace(f"[{section}]\n", f"[{section}]\n{setting}\n"))
    with pytest.raises(GatewayConfigError, match=name):
        load_config(path)


def test_gateway_check_exits_2_on_a_bad_key_file_without_printing_the_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{SECRET}:alice\n")
    config = tmp_path / "gateway.toml"
    config.write_text(_render(key_file=str(keys)))
    result = subprocess.run(
        [sys.executable, "-m", "slm_deploy.servers.gateway", "--config", str(config), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "line 1" in result.stderr
    assert SECRET not in result.stdout + result.stderr


ALLOWED_IMPORTS = {"httptools", "multidict", "prometheus_client", "uvloop", "slm_deploy"}


def test_image_context_is_self_contained_and_pinned() -> None:
    files = gateway_sources()
    stdlib = set(sys.stdlib_module_names)
    for name, text in files.items():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(text)):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            for module in modules:
                top = module.split(".")[0]
                assert top in stdlib or top in ALLOWED_IMPORTS or top == "__future__", f"{name} imports {module}"
                if top == "slm_deploy":
                    target = module.replace(".", "/")
                    assert f"{target}.py" in files or f"{target}/__init__.py" in files, f"{name} needs {module}"
    assert all("==" in line for line in files["requirements.txt"].splitlines())
    assert gateway_sources() == gateway_sources()


def test_the_gateway_raises_its_open_file_limit_or_refuses_a_cap_it_cannot_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from slm_deploy.servers.gateway.app import reserve_file_descriptors

    limits = {"soft": 1024, "hard": 4096}
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (limits["soft"], limits["hard"]))
    monkeypatch.setattr(resource, "setrlimit", lambda _which, pair: limits.update(soft=pair[0]))
    reserve_file_descriptors(1024)
    assert limits["soft"] == 2 * 1024 + 64  # both sockets of every proxied request fit
    with pytest.raises(GatewayConfigError, match="max_connections"):
        reserve_file_descriptors(4096)


def test_a_restricted_streamed_request_is_parsed_once_for_both_rewrites(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MLX table drops `model` and the stream asks for usage: one parse of the client's body serves both."""
    parsed: list[object] = []
    loads = json.loads
    monkeypatch.setattr(json, "loads", lambda data, *a, **k: parsed.append(data) or loads(data, *a, **k))
    body = b'{"model":"/elsewhere","messages":[{"role":"user","content":"hi"}],"stream":true}'
    rewritten, asked = restrict_request_fields(body, frozenset({"model"}), frozenset({"adapters"}), inject_usage=True)
    assert len(parsed) == 1 and asked
    assert loads(rewritten) == {"messages": [{"role": "user", "content": "hi"}], "stream": True,
                                "stream_options": {"include_usage": True}}
    assert restrict_request_fields(b'{"messages":[]}', frozenset({"model"}), frozenset(), inject_usage=True) == (
        b'{"messages":[]}', False)


@pytest.mark.parametrize("stream", ['"no"', "2", '["x"]'])
def test_a_stream_value_mlx_reads_as_true_asks_for_usage(stream: str) -> None:
    """mlx-lm tests `if body.get("stream")`, so any true-ish value streams there."""
    body = b'{"messages":[],"stream":%s,"stream_options":{"include_usage":0}}' % stream.encode()
    rewritten, asked = restrict_request_fields(body, frozenset({"model"}), frozenset(), inject_usage=True)
    assert asked and json.loads(rewritten)["stream_options"] == {"include_usage": True}
