"""Clients that load a pod the way real ones do, for the drain tests."""

from __future__ import annotations

import socket

from tests.support.kubelet import Pod


def idle_keep_alive(pod: Pod, port: int, path: str, count: int = 3) -> list[socket.socket]:
    """Connections that completed one HTTP/1.1 request and stay open, idle, as a pooling client leaves them."""
    held = []
    for _ in range(count):
        connection = socket.create_connection((pod.ip, port), timeout=10)
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {pod.ip}\r\nConnection: keep-alive\r\n\r\n".encode())
        assert b" 200 " in connection.recv(4096).split(b"\r\n", 1)[0]
        held.append(connection)
    return held
