"""Clients that load a pod the way real ones do, for the drain tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from slm_deploy.render.kubernetes.probes import ENDPOINT_SETTLE_SECONDS
from tests.integration.stacks import http
from tests.support.kubelet import Pod, Termination

BUSY_WAIT_SECONDS = 30
REPLY_WAIT_SECONDS = 300


def port(pod: Pod, name: str = "http") -> int:
    """The pod's first container's port of that name, as rendered."""
    return next(p["containerPort"] for p in pod.spec["containers"][0]["ports"] if p["name"] == name)


def url(pod: Pod, path: str, port_name: str = "http") -> str:
    """Where the node reaches a path on the pod."""
    return f"http://{pod.ip}:{port(pod, port_name)}{path}"


def idle_keep_alive(pod: Pod, path: str, count: int = 3) -> list[socket.socket]:
    """Connections that completed one HTTP/1.1 request and stay open, idle, as a pooling client leaves them."""
    held = []
    for _ in range(count):
        connection = socket.create_connection((pod.ip, port(pod)), timeout=10)
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {pod.ip}\r\nConnection: keep-alive\r\n\r\n".encode())
        assert b" 200 " in connection.recv(4096).split(b"\r\n", 1)[0]
        held.append(connection)
    return held


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    finished_at: float


def chat_in_background(url: str, api_key: str, body: dict, replies: list[Reply]) -> threading.Thread:
    """POST one chat completion on its own thread; its reply is appended to `replies` when it ends."""
    def send() -> None:
        status, answer = http("POST", url, body, headers={"Authorization": f"Bearer {api_key}"},
                              timeout=REPLY_WAIT_SECONDS)
        replies.append(Reply(status, answer, time.monotonic()))
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def busy(metrics_url: str, gauges: Sequence[str]) -> bool:
    """Whether any of the gauges on a /metrics page is above zero."""
    status, body = http("GET", metrics_url, timeout=5)
    return status == 200 and any(
        float(line.rsplit(" ", 1)[1]) > 0 for line in body.decode().splitlines()
        if line.split("{", 1)[0].split(" ", 1)[0] in gauges)


def terminate_while_serving(pod: Pod, chat_url: str, api_key: str, bodies: Sequence[dict], metrics_url: str,
                            gauges: Sequence[str]) -> tuple[Termination, list[Reply]]:
    """Send the requests, wait until the pod's gauges show them, delete the pod; check that the work outlasted
    the drain's settle time (so only polling could end it), that the drain ended cleanly, and that it held the
    pod until the last reply had been sent."""
    replies: list[Reply] = []
    senders = [chat_in_background(chat_url, api_key, body, replies) for body in bodies]
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while not busy(metrics_url, gauges) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(replies) < len(bodies), "every reply came before the drain could be observed; make the work longer"
    stop_started = time.monotonic()
    (termination,) = pod.terminate().values()
    for sender in senders:
        sender.join(REPLY_WAIT_SECONDS)
    assert len(replies) == len(bodies), f"only {len(replies)} of {len(bodies)} requests got a reply"
    last = max(reply.finished_at for reply in replies)
    assert last > stop_started + ENDPOINT_SETTLE_SECONDS, (
        f"the work ended {last - stop_started:.1f}s into the drain, before it polled; make the work longer")
    assert termination.prestop_outcome.ok and not termination.killed, termination
    assert stop_started + termination.prestop_seconds >= last - 1, (termination, last - stop_started)
    return termination, replies
