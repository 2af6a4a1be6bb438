"""Smoke checks against fake OpenAI-style and Ollama-style upstreams: correct ones pass, broken ones fail with
the reason a user needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_deploy.smoke.expectations import SmokeExpectations
from slm_deploy.smoke.keys import ApiKey
from slm_deploy.smoke.runner import SmokeReport, run_smoke
from tests.conftest import run_cli
from tests.support.fake_upstream import FakeBehaviour, fake_upstream

KEY = "k" * 32
GATED = SmokeExpectations(runtime="llamacpp", model="fake-model", auth=True, health_path="/health",
                          ready_path="/health", tool_calls=True, tool_calls_note="parses tools",
                          metrics_public=False)
OLLAMA = SmokeExpectations(runtime="ollama", model="fake-model", auth=True, health_path="/", ready_path="/",
                           tool_calls=True, tool_calls_note="tools", ollama_native=True, metrics_public=False)


def smoke(behaviour: FakeBehaviour, expect: SmokeExpectations = GATED, **options) -> SmokeReport:
    with fake_upstream(behaviour) as server:
        return run_smoke(server.url, expect, key=ApiKey(KEY, "smoke"), timeout=10, **options)


def rows(report: SmokeReport) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


def test_a_correct_openai_style_endpoint_passes_every_check_that_applies() -> None:
    with fake_upstream(FakeBehaviour(faults=frozenset({"public-metrics"}))) as scrape:
        report = smoke(FakeBehaviour(), metrics_url=f"{scrape.url}/metrics")
    found = rows(report)
    assert report.passed, found
    assert {name for name, (status, _) in found.items() if status == "skip"} == {"ollama-tags", "ollama-chat"}
    assert found["models"] == ("pass", "serves fake-model")
    assert found["tool-call"] == ("pass", "get_weather(city)")
    assert found["auth-key"] == ("pass", "key id smoke: 200")


def test_a_correct_ollama_style_endpoint_passes_its_native_api_checks() -> None:
    found = rows(smoke(FakeBehaviour(style="ollama"), OLLAMA))
    assert found["ollama-tags"] == ("pass", "lists fake-model")
    assert found["ollama-chat"][0] == "pass" and "done" in found["ollama-chat"][1]
    assert all(status != "fail" for status, _ in found.values()), found


def test_an_endpoint_that_drops_auth_fails_both_refusal_checks() -> None:
    report = smoke(FakeBehaviour(faults=frozenset({"no-auth"})))
    found = rows(report)
    assert not report.passed
    assert found["auth-no-key"] == ("fail", "GET /v1/models without a key answered 200, expected 401 or 403")
    assert found["auth-wrong-key"] == ("fail", "GET /v1/models with a wrong key answered 200, expected 401 or 403")
    assert found["auth-key"][0] == "pass"


@pytest.mark.parametrize(("fault", "reason"), [
    ("stream-cut", "the stream broke after 3 chunks (RemoteProtocolError)"),
    ("stream-not-sse", "not an event stream"),
])
def test_a_broken_stream_fails_the_streaming_check_with_the_reason(fault: str, reason: str) -> None:
    report = smoke(FakeBehaviour(faults=frozenset({fault})))
    status, detail = rows(report)["chat-stream"]
    assert (status, report.passed) == ("fail", False)
    assert reason in detail
    assert rows(report)["chat"][0] == "pass"


def test_a_stream_that_never_ends_fails_within_the_timeout() -> None:
    with fake_upstream(FakeBehaviour(faults=frozenset({"stream-endless"}))) as server:
        report = run_smoke(server.url, GATED, key=ApiKey(KEY, None), timeout=2)
    status, detail = rows(report)["chat-stream"]
    assert status == "fail" and "no `data: [DONE]` within the timeout" in detail


def test_server_text_cannot_inject_markup_or_terminal_escapes(tmp_path: Path) -> None:
    keys = tmp_path / "key"
    keys.write_text(KEY)
    with fake_upstream(FakeBehaviour(faults=frozenset({"chat-500-markup"}))) as server:
        result = run_cli("smoke", server.url, "--api-key-file", str(keys))
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "[/][bold red]boom" in result.stdout and "\x1b" not in result.stdout


def test_an_ollama_stream_without_done_fails() -> None:
    status, detail = rows(smoke(FakeBehaviour(style="ollama", faults=frozenset({"stream-cut"})), OLLAMA))["ollama-chat"]
    assert status == "fail" and "without `done: true`" in detail


def test_a_server_error_fails_chat_with_the_servers_message() -> None:
    found = rows(smoke(FakeBehaviour(faults=frozenset({"chat-500"}))))
    assert found["chat"] == ("fail", "HTTP 500 from POST /v1/chat/completions: engine crashed")
    assert found["chat-stream"] == ("fail", "HTTP 500 from POST /v1/chat/completions (stream): engine crashed")


def test_a_text_answer_to_a_forced_tool_call_fails() -> None:
    assert rows(smoke(FakeBehaviour(faults=frozenset({"tools-text"}))))["tool-call"] == (
        "fail", "POST /v1/chat/completions (tools): answered with text instead of a tool call")


def test_tool_calls_are_skipped_with_the_reason_where_the_runtime_has_none() -> None:
    expect = SmokeExpectations(**{**GATED.__dict__, "tool_calls": False,
                                  "tool_calls_note": "the ONNX Runtime GenAI server refuses `tools`"})
    with fake_upstream(FakeBehaviour()) as server:
        report = run_smoke(server.url, expect, key=ApiKey(KEY, None), timeout=10)
    assert rows(report)["tool-call"] == ("skip", "the ONNX Runtime GenAI server refuses `tools`")
    assert server.requests.count("chat") == 2  # plain and streamed; no tools request was sent


def test_metrics_open_to_anyone_behind_a_gateway_fail() -> None:
    status, detail = rows(smoke(FakeBehaviour(faults=frozenset({"public-metrics"}))))["metrics-public"]
    assert status == "fail" and "without a key" in detail


def test_an_unreachable_endpoint_fails_every_check_it_runs_with_the_reason() -> None:
    with fake_upstream(FakeBehaviour()) as server:
        url = server.url
    report = run_smoke(url, GATED, key=ApiKey(KEY, None), timeout=5)
    failed = [r for r in report.results if r.status == "fail"]
    assert failed and all("cannot reach the endpoint (ConnectError" in r.detail or "no model" in r.detail
                          for r in failed)


def test_the_cli_prints_json_exits_1_and_never_shows_the_key(tmp_path: Path) -> None:
    expect = tmp_path / "expect.json"
    expect.write_text(GATED.to_json())
    keys = tmp_path / "keys"
    keys.write_text(f"# ids\nops:{'o' * 24}\nsmoke:{KEY}\n")
    with fake_upstream(FakeBehaviour(faults=frozenset({"chat-500"}))) as server:
        result = run_cli("smoke", server.url, "--expect", str(expect), "--api-key-file", str(keys), "--json")
        table = run_cli("smoke", server.url, "--expect", str(expect), "--api-key-file", str(keys))
    assert result.code == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["passed"] is False
    assert {r["name"]: r["status"] for r in document["results"]}["chat"] == "fail"
    assert KEY not in result.stdout + result.stderr + table.stdout + table.stderr
    assert table.code == 1 and "HTTP 500 from POST /v1/chat/completions: engine crashed" in table.stdout
    assert "smoke FAILED" in table.stdout


def test_the_cli_passes_against_a_correct_endpoint(tmp_path: Path) -> None:
    keys = tmp_path / "key"
    keys.write_text(KEY + "\n")
    with fake_upstream(FakeBehaviour()) as server:
        result = run_cli("smoke", server.url, "--api-key-file", str(keys), "--skip", "tool-call")
    assert result.code == 0, result.stdout + result.stderr
    assert "smoke PASSED" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["ftp://example.com"], "ENDPOINT: not an http(s) URL"),
    (["http://user:secret-token@example.com"], "ENDPOINT: not an http(s) URL"),
    (["http://127.0.0.1:9", "--skip", "everything"], "--skip: unknown check"),
])
def test_bad_options_exit_2_naming_the_option_without_echoing_it(args: list[str], message: str) -> None:
    result = run_cli("smoke", *args)
    assert result.code == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert "secret-token" not in result.stderr + result.stdout and "everything" not in result.stderr


def test_an_unusable_key_file_exits_2_without_showing_its_content(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("ops secret-value-that-is-long\n")
    result = run_cli("smoke", "http://127.0.0.1:9", "--api-key-file", str(keys))
    assert result.code == 2 and "has spaces or control characters" in result.stderr
    assert "secret-value" not in result.stderr + result.stdout
