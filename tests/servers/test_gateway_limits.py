"""Per-key rate and concurrency limits of the real gateway process."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx

from tests.servers.gateway_fixtures import KEYS, FakeRuntime, GatewayProcess, bearer, eventually

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}


def _gateway(tmp_path: Path, runtime: FakeRuntime, **settings: object) -> GatewayProcess:
    return GatewayProcess(tmp_path, runtime.url, settings=settings)


def test_rate_limit_gives_429_per_key(tmp_path: Path, runtime: FakeRuntime) -> None:
    # One request per 1000 s with a burst of 3: the fourth request within the test must be refused.
    gateway = _gateway(tmp_path, runtime, rate_per_second=0.001, burst=3)
    try:
        with httpx.Client(base_url=gateway.url, timeout=20) as client:
            statuses = [client.get("/v1/models", headers=bearer("alice")).status_code for _ in range(4)]
            refused = client.get("/v1/models", headers=bearer("alice"))
            other_key = client.get("/v1/models", headers=bearer("bob"))
        assert statuses == [200, 200, 200, 429]
        error = refused.json()["error"]
        assert (refused.status_code, error["code"], error["type"]) == (429, "rate_limit_exceeded", "rate_limit_error")
        assert int(refused.headers["retry-after"]) >= 1
        assert other_key.status_code == 200
        assert gateway.sample("slm_gateway_rejections_total", reason="rate_limited", key_id="alice") == 2
        assert gateway.sample("slm_gateway_requests_total", route="/v1/models", status="429", key_id="alice") == 2
    finally:
        gateway.stop()


def _hold_one(client: httpx.Client, runtime: FakeRuntime, name: str, results: list[int]) -> threading.Thread:
    """Start a request the runtime holds until released; return once the runtime has it."""
    arrived = runtime.arm(name)

    def call() -> None:
        results.append(client.post("/v1/chat/completions", json={**CHAT, "hold": name}, headers=bearer("alice")).status_code)

    thread = threading.Thread(target=call)
    thread.start()
    assert arrived.wait(10), "the held request never reached the runtime"
    return thread


def test_concurrency_limit_gives_429_and_frees_the_slot(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime, max_concurrency=1)
    try:
        with httpx.Client(base_url=gateway.url, timeout=20) as client:
            results: list[int] = []
            held = _hold_one(client, runtime, "conc", results)
            assert gateway.sample("slm_gateway_in_flight_requests", key_id="alice") == 1
            refused = client.post("/v1/chat/completions", json=CHAT, headers=bearer("alice"))
            other_key = client.post("/v1/chat/completions", json=CHAT, headers=bearer("bob"))
            runtime.release("conc")
            held.join(20)
            after = client.post("/v1/chat/completions", json=CHAT, headers=bearer("alice"))
        assert (refused.status_code, refused.json()["error"]["code"]) == (429, "concurrency_limit_exceeded")
        assert other_key.status_code == 200
        assert results == [200]
        assert after.status_code == 200
        assert gateway.sample("slm_gateway_in_flight_requests", key_id="alice") == 0
    finally:
        gateway.stop()


def test_queue_holds_one_waiter_and_refuses_the_next(tmp_path: Path, runtime: FakeRuntime) -> None:
    gateway = _gateway(tmp_path, runtime, max_concurrency=1, max_queue=1, queue_timeout_seconds=30.0)
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as client, httpx.Client(base_url=gateway.url, timeout=30) as second:
            results: list[int] = []
            held = _hold_one(client, runtime, "queue", results)
            waiter_result: list[int] = []
            waiter = threading.Thread(
                target=lambda: waiter_result.append(
                    second.post("/v1/chat/completions", json=CHAT, headers=bearer("alice")).status_code
                )
            )
            waiter.start()
            while gateway.sample("slm_gateway_queued_requests", key_id="alice") < 1:
                assert waiter.is_alive(), "the queued request finished instead of waiting"
            with httpx.Client(base_url=gateway.url, timeout=20) as third:
                refused = third.post("/v1/chat/completions", json=CHAT, headers=bearer("alice"))
            runtime.release("queue")
            held.join(20)
            waiter.join(20)
        assert (refused.status_code, refused.json()["error"]["code"]) == (429, "concurrency_limit_exceeded")
        assert results == [200] and waiter_result == [200]
        assert gateway.sample("slm_gateway_queued_requests", key_id="alice") == 0
    finally:
        gateway.stop()


def _start_upload(gateway: GatewayProcess, length: int) -> socket.socket:
    """A keyed POST that declares `length` body bytes and sends all but the last one."""
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS['alice']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{" + " " * (length - 2)
    )
    sock.sendall(head.encode())
    return sock


def test_body_budget_refuses_bodies_that_would_overflow_it_before_forwarding_them(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    limit = 4096
    gateway = _gateway(tmp_path, runtime, max_request_body_bytes=limit, max_in_flight_body_bytes=2 * limit)
    reserved = "slm_gateway_request_body_bytes_reserved"
    uploads: list[socket.socket] = []
    try:
        uploads = [_start_upload(gateway, limit) for _ in range(2)]
        assert eventually(lambda: gateway.sample(reserved) == 2 * (limit - 1)), gateway.sample(reserved)
        with httpx.Client(base_url=gateway.url, timeout=20) as client:
            seen_before = len(runtime.seen)
            refused = client.post("/v1/chat/completions", json=CHAT, headers=bearer("bob"))
            assert len(runtime.seen) == seen_before  # the refused body never reached the runtime
            no_body = client.get("/v1/models", headers=bearer("bob"))
            error = refused.json()["error"]
            assert (refused.status_code, error["code"], error["type"]) == (503, "body_budget_exceeded", "server_error")
            assert refused.headers["retry-after"] == "1"
            assert no_body.status_code == 200  # requests without a body need no budget
            uploads.pop().close()
            assert eventually(lambda: gateway.sample(reserved) == limit - 1)
            admitted = client.post("/v1/chat/completions", json=CHAT, headers=bearer("bob"))
        assert admitted.status_code == 200
        assert gateway.sample("slm_gateway_rejections_total", reason="body_budget", key_id="bob") == 1
    finally:
        for sock in uploads:
            sock.close()
        gateway.stop()
