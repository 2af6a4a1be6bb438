"""The gateway's pure parts: key file, limits, usage taps, config rendering and the image context."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from slm_deploy.servers.gateway import (
    GatewayConfig,
    GatewayConfigError,
    gateway_sources,
    gateway_command,
    load_config,
    render_gateway_config,
)
from slm_deploy.servers.gateway.keys import KeyFileError, KeyStore, parse_key_file
from slm_deploy.servers.gateway.limits import ConcurrencyGate, TokenBucket
from slm_deploy.servers.gateway.routes import route_label
from slm_deploy.servers.gateway.usage import LineStreamTap, TokenUsage, request_usage_injection, usage_from_object

SECRET = "sk-unit-secret-value-1234567890"


# -- key file --------------------------------------------------------------------------------


def test_key_file_identifies_each_key_by_id() -> None:
    keys = parse_key_file(f"# comment\n\nalice:{SECRET}\nbob : sk-other-0123456789abcdef:with-colon\n")
    assert keys.key_ids == ("alice", "bob")
    assert keys.identify(SECRET) == "alice"
    assert keys.identify("sk-other-0123456789abcdef:with-colon") == "bob"
    assert keys.identify(SECRET + "x") is None
    assert keys.identify("") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"{SECRET}\n", "line 1: expected 'key_id:key'"),
        (f"bad id:{SECRET}\n", "line 1: key id"),
        ("alice:short\n", "line 1 (id alice): key must be at least 16"),
        (f"alice:{SECRET}\nalice:{SECRET}x\n", "line 2: key id alice appears twice"),
        (f"alice:{SECRET}\nbob:{SECRET}\n", "line 2 (id bob): the same key"),
    ],
)
def test_key_file_errors_name_the_line_never_the_key(text: str, fragment: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_key_file(text)
    assert fragment in str(caught.value)
    assert SECRET not in str(caught.value) and "short" not in str(caught.value)


def test_key_store_reloads_only_after_the_interval_and_keeps_keys_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"alice:{SECRET}\n")
    now = [100.0]
    events: list[str] = []
    store = KeyStore(str(path), 5.0, lambda result, keys: events.append(result), clock=lambda: now[0])
    path.write_text(f"bob:{SECRET}\n")
    assert store.keys.key_ids == ("alice",)  # interval not yet passed
    now[0] += 5.0
    assert store.keys.key_ids == ("bob",)
    path.write_text("garbage\n")
    now[0] += 5.0
    assert store.keys.key_ids == ("bob",)
    now[0] += 5.0
    assert store.keys.key_ids == ("bob",)
    assert events == ["loaded", "loaded", "error"]  # the bad version is reported once


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


def test_tap_keeps_the_last_cumulative_usage_and_ollama_counts() -> None:
    tap = LineStreamTap()
    tap.feed(b'data: {"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":9,"completion_tokens":1}}\n\n')
    tap.feed(b'data: {"choices":[{"delta":{"content":"b"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}\n\n')
    assert tap.usage == TokenUsage(9, 2)
    ollama = LineStreamTap()
    out = ollama.feed(b'{"response":"a","done":false}\n{"done":true,"prompt_eval_count":3,"eval_count":8}')
    assert out == b'{"response":"a","done":false}\n'
    assert ollama.finish().endswith(b'"eval_count":8}') and ollama.usage == TokenUsage(3, 8)


def test_usage_ignores_malformed_counts() -> None:
    assert usage_from_object({"usage": {"prompt_tokens": "9", "completion_tokens": 1}}) is None
    assert usage_from_object({"eval_count": -1}) is None
    assert usage_from_object({"usage": {"prompt_tokens": 5, "total_tokens": 5}}) == TokenUsage(5, 0)  # embeddings


def test_usage_injection_only_for_streams_that_did_not_ask() -> None:
    assert request_usage_injection(b'{"stream":false}') is None
    assert request_usage_injection(b'{"stream":true,"stream_options":{"include_usage":true}}') is None
    rewritten = request_usage_injection(b'{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false}}')
    assert rewritten == b'{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":true}}'


def test_route_labels_stay_bounded() -> None:
    assert route_label("/v1/chat/completions") == "/v1/chat/completions"
    assert route_label("/v1/models/qwen3") == "/v1/models/{model}"
    assert route_label("/v1/anything/else") == "/v1/other"
    assert route_label("/api/whatever") == "/api/other"
    assert route_label("/invocations") == "other"


# -- config and rendering ----------------------------------------------------------------------


def _render(**overrides: object) -> str:
    args: dict[str, object] = dict(
        upstream="http://runtime:8000", listen_port=8080, key_file="/run/secrets/gateway-keys",
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
        upstream_url="http://runtime:8000", listen_port=8080, key_file="/run/secrets/gateway-keys",
        rate_per_second=5.0, burst=10, max_concurrency=4,
    )
    assert gateway_command() == ["python", "-m", "slm_deploy.servers.gateway", "--config", "/etc/slm-gateway/gateway.toml"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"exempt_paths": ("/v1/models",)}, "exempt_paths"),
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


def test_gateway_check_exits_2_on_a_bad_key_file_without_printing_the_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"alice {SECRET}\n")
    config = tmp_path / "gateway.toml"
    config.write_text(_render(key_file=str(keys)))
    result = subprocess.run(
        [sys.executable, "-m", "slm_deploy.servers.gateway", "--config", str(config), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "line 1" in result.stderr
    assert SECRET not in result.stdout + result.stderr


ALLOWED_IMPORTS = {"aiohttp", "prometheus_client", "uvloop", "yarl", "slm_deploy"}


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
