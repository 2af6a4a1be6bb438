"""Scale from zero: while no runtime accepts connections the gateway holds requests (up to its wait budget),
counts them in `slm_gateway_upstream_waiting_requests` for KEDA, and forwards them once a runtime answers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.servers.gateway_fixtures import KEYS, GatewayProcess, free_port

WAITING = "slm_gateway_upstream_waiting_requests"


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"object": "list", "data": [{"id": "woken"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_request_waits_for_a_runtime_that_wakes_and_is_counted_meanwhile(tmp_path: Path) -> None:
    port = free_port()
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{port}", settings={"upstream_wait_seconds": 60.0})
    answers: list[httpx.Response] = []
    client = threading.Thread(target=lambda: answers.append(httpx.get(
        f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {KEYS['alice']}"}, timeout=90)))
    server = None
    try:
        client.start()
        assert _wait_for(lambda: gateway.sample(WAITING) == 1, 15), "the held request is exported for KEDA"
        assert not answers, "nothing answers while no runtime exists"
        server = ThreadingHTTPServer(("127.0.0.1", port), _Models)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client.join(30)
        assert answers and answers[0].status_code == 200
        assert answers[0].json()["data"][0]["id"] == "woken"
        assert gateway.sample(WAITING) == 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        gateway.stop()


def test_the_wait_is_bounded_and_then_answers_502(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, f"http://127.0.0.1:{free_port()}", settings={"upstream_wait_seconds": 2.0})
    try:
        started = time.monotonic()
        response = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {KEYS['alice']}"},
                             timeout=30)
        elapsed = time.monotonic() - started
        assert response.status_code == 502
        assert 1.5 <= elapsed < 15, elapsed
        assert gateway.sample(WAITING) == 0
    finally:
        gateway.stop()
