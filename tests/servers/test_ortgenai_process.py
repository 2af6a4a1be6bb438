"""The server as the image runs it: its package copied on its own, `python -m`, real uvicorn on loopback.

The package is copied under another name to prove it depends on nothing else from slm-deploy, HOME and
the working directory are empty folders that must stay empty (the container's root filesystem is
read-only), and the process must stop cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the process test talks HTTP with httpx")
pytest.importorskip("uvicorn", reason="the ortgenai server runs on uvicorn")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from tests.servers.ortgenai_helpers import SERVED_NAME, metric, sse_payloads  # noqa: E402
from tests.servers.ortgenai_process import (  # noqa: E402
    STANDALONE_PACKAGE,
    STARTUP_SECONDS,
    free_loopback_port,
    server_env,
    standalone_copy,
    stop,
    wait_for_health,
)


@pytest.fixture
def standalone(tmp_path: Path):
    """A copy of the server package alone on PYTHONPATH, an empty HOME and an empty working directory."""
    return standalone_copy(tmp_path)


def test_uvicorn_process_serves_streams_scrapes_and_stops_cleanly(standalone, tiny_onnx_model):
    app_root, home, workdir = standalone
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(app_root, home, SLM_MODEL_DIR=str(tiny_onnx_model), SLM_HOST="127.0.0.1",
                     SLM_PORT=str(port), SLM_SERVED_MODEL_NAME=SERVED_NAME, SLM_LOG_LEVEL="info")
    process = subprocess.Popen([sys.executable, "-m", STANDALONE_PACKAGE], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        statuses = wait_for_health(port, process)
        assert set(statuses) <= {200, 503}

        body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "Hello there"}],
                "max_tokens": 16, "temperature": 0}
        plain = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=30)
        assert plain.status_code == 200
        assert plain.json()["usage"]["completion_tokens"] >= 1

        with httpx.stream("POST", f"{base_url}/v1/chat/completions", json={**body, "stream": True},
                          timeout=30) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            raw = "".join(streamed.iter_text())
        payloads = sse_payloads(raw)
        assert payloads[-1] == "[DONE]"
        streamed_text = "".join(json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1])
        assert streamed_text == plain.json()["choices"][0]["message"]["content"]

        assert httpx.get(f"{base_url}/v1/models", timeout=5).json()["data"][0]["id"] == SERVED_NAME
        scrape = httpx.get(f"{base_url}/metrics", timeout=5).text
        assert metric(scrape, "ortgenai_requests_total", route="/v1/chat/completions", status="200") == 2
        assert metric(scrape, "ortgenai_model_loaded") == 1
        assert "_created" not in scrape

        probe = [sys.executable, "-m", f"{STANDALONE_PACKAGE}.healthcheck"]
        assert subprocess.run(probe, env={**env, "SLM_PORT": str(port)}, cwd=workdir).returncode == 0
        closed_port = free_loopback_port()
        assert subprocess.run(probe, env={**env, "SLM_PORT": str(closed_port)}, cwd=workdir).returncode == 1
    finally:
        stderr = stop(process)
    # uvicorn finishes a graceful shutdown, then re-raises SIGTERM so the exit status tells why it stopped
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr
    assert "model tiny loaded" in stderr
    assert "Hello there" not in stderr, "prompts must never be logged"
    assert list(home.iterdir()) == [], "the server must not write to HOME"
    assert list(workdir.iterdir()) == [], "the server must not write to its working directory"


def test_process_exits_3_when_the_model_cannot_load(standalone, tmp_path):
    app_root, home, workdir = standalone
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "genai_config.json").write_text('{"model": {"context_length": 64, "type": "llama"}}')
    env = server_env(app_root, home, SLM_MODEL_DIR=str(broken), SLM_PORT=str(free_loopback_port()))
    result = subprocess.run([sys.executable, "-m", STANDALONE_PACKAGE], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=STARTUP_SECONDS)
    assert result.returncode == 3
    assert "the model could not be loaded" in result.stderr


def test_process_exits_2_on_bad_settings(standalone):
    app_root, home, workdir = standalone
    env = server_env(app_root, home, SLM_MODEL_DIR="/models/x", SLM_EXECUTION_PROVIDER="tpu")
    result = subprocess.run([sys.executable, "-m", STANDALONE_PACKAGE], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=STARTUP_SECONDS)
    assert result.returncode == 2
    assert "SLM_EXECUTION_PROVIDER" in result.stderr
