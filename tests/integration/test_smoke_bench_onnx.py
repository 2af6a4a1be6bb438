"""smoke and bench against the real ONNX Runtime GenAI server with the tiny model: behind the gateway of the
rendered Compose project (auth on), from the host and from the rendered smoke profile, and alone in its container
(where its own metrics give the server's memory)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.compose_projects import Project, compose_run
from tests.integration.stacks import GATEWAY_PORT, NAME, RenderedStack, spec_path

GATEWAY = f"http://127.0.0.1:{GATEWAY_PORT}"
MIB = 2**20


def statuses(stdout: str) -> dict[str, str]:
    return {r["name"]: r["status"] for r in json.loads(stdout)["results"]}


def test_smoke_passes_through_the_gateway_from_the_spec(compose_project: Project, onnx_stack: RenderedStack) -> None:
    keys = compose_project.directory / "secrets" / "api-keys"
    result = run_cli("smoke", GATEWAY, "--spec", str(spec_path(onnx_stack)), "--api-key-file", str(keys), "--json")
    assert result.code == 0, result.stdout + result.stderr
    found = statuses(result.stdout)
    skipped = {name for name, status in found.items() if status == "skip"}
    # the ONNX server has no tool calls, it is not Ollama, and the gateway's scrape port is not published
    assert skipped == {"tool-call", "ollama-tags", "ollama-chat", "metrics-scrape"}, found
    assert compose_project.api_key not in result.stdout + result.stderr


def test_smoke_fails_with_a_key_the_gateway_does_not_know(compose_project: Project, onnx_stack: RenderedStack,
                                                          tmp_path: Path) -> None:
    keys = tmp_path / "key"
    keys.write_text(secrets.token_hex(24))
    result = run_cli("smoke", GATEWAY, "--spec", str(spec_path(onnx_stack)), "--api-key-file", str(keys), "--json")
    found = json.loads(result.stdout)
    assert result.code == 1
    (key_row,) = [r for r in found["results"] if r["name"] == "auth-key"]
    assert key_row["status"] == "fail" and key_row["detail"].startswith("HTTP 401 from GET /v1/models with the key")


def test_the_rendered_smoke_profile_passes_against_the_running_project(compose_project: Project) -> None:
    result = compose_run(compose_project, "--profile", "smoke", "run", "--rm", f"{NAME}-smoke", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke PASSED" in result.stdout
    for check in ("chat-stream", "auth-wrong-key", "metrics-public", "metrics-scrape"):
        line = next(line for line in result.stdout.splitlines() if f" {check} " in line)
        assert "PASS" in line, line


def test_bench_measures_the_server_alone_and_through_the_gateway(onnx_server: tuple[str, str],
                                                                 compose_project: Project, tmp_path: Path) -> None:
    _, base = onnx_server
    direct = tmp_path / "direct.json"
    # open loop at 3 requests/s: below the gateway's default per-key limit (10/s, burst 20), so no 429s are due
    result = run_cli("bench", base, "--rate", "3", "--duration", "6", "--warmup", "2", "--prompt-tokens",
                     "uniform:8-24", "--output-tokens", "16", "--metrics-url", f"{base}/metrics", "--label", "server",
                     "--json-out", str(direct))
    assert result.code == 0, result.stderr
    (run,) = json.loads(direct.read_text())["runs"]
    summary = run["summary"]
    assert summary["succeeded"] == summary["requests"] > 0
    assert 0 < summary["ttft_s"]["p50"] <= summary["e2e_s"]["p50"]
    assert summary["output_tokens_per_s"] > 0 and summary["stream_tokens_per_s"]["mean"] > 0
    assert run["memory"]["available"] and run["memory"]["peak_bytes"] > 50 * MIB
    keys = compose_project.directory / "secrets" / "api-keys"
    chart = tmp_path / "chart.png"
    both = tmp_path / "both.json"
    gated = run_cli("bench", GATEWAY, "--api-key-file", str(keys), "--rate", "3", "--duration", "6",
                    "--warmup", "2", "--prompt-tokens", "uniform:8-24", "--output-tokens", "16", "--label", "gateway",
                    "--compare", str(direct), "--json-out", str(both), "--png", str(chart),
                    "--html", str(tmp_path / "chart.html"))
    assert gated.code == 0, gated.stderr
    assert "server rate 3/s" in gated.stdout and "gateway rate 3/s" in gated.stdout
    through = json.loads(both.read_text())["runs"][1]["summary"]
    assert through["succeeded"] == through["requests"] > 0 and through["rate_limited"] == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
