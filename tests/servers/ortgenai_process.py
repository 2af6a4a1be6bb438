"""Run the ortgenai server as its image does (`python -m`, real uvicorn, loopback) and speak raw HTTP/1.1 to it.

Requests are written byte for byte on plain sockets, so nothing between the test and the server normalises
paths, headers or bodies; responses are parsed with h11, an independent HTTP/1.1 implementation.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h11

from tests.servers.ortgenai_helpers import SERVED_NAME, metric

SERVER_SOURCE = Path(__file__).resolve().parents[2] / "components" / "servers" / "ortgenai"
STANDALONE_PACKAGE = "ortgenai_server"
STARTUP_SECONDS = 60.0
SHUTDOWN_SECONDS = 30.0
SOCKET_SECONDS = 30.0


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def standalone_copy(root: Path) -> tuple[Path, Path, Path]:
    """The server package copied alone onto a PYTHONPATH folder, plus an empty HOME and working directory."""
    app_root = root / "app"
    shutil.copytree(SERVER_SOURCE, app_root / STANDALONE_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "README.md", "requirements.txt"))
    home, workdir = root / "home", root / "work"
    home.mkdir()
    workdir.mkdir()
    return app_root, home, workdir


def server_env(app_root: Path, home: Path, **settings: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(app_root),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


def wait_for_health(port: int, process: subprocess.Popen) -> list[int]:
    """Poll /health until 200, returning every status seen; fail if the process dies first."""
    seen: list[int] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {process.stderr.read()}")
        try:
            status = exchange(port, request_bytes("GET", "/health"), timeout=2).status
        except OSError:
            time.sleep(0.05)
            continue
        seen.append(status)
        if status == 200:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"the server never became healthy; statuses seen: {seen}")


def stop(process: subprocess.Popen) -> str:
    """SIGTERM the server, wait for it, and return what it wrote to stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stderr.read()


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def scrape(self) -> str:
        return exchange(self.port, request_bytes("GET", "/metrics")).body.decode()

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.scrape(), name, **labels)

    def rss_bytes(self) -> int:
        """Resident memory of the server process now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("VmRSS missing from /proc status")


@contextlib.contextmanager
def served(model_dir: Path, root: Path, **settings: str) -> Iterator[ServerProcess]:
    """The standalone server on a free loopback port, healthy, stopped with SIGTERM afterwards."""
    app_root, home, workdir = standalone_copy(root)
    port = free_loopback_port()
    env = server_env(app_root, home, SLM_MODEL_DIR=str(model_dir), SLM_HOST="127.0.0.1", SLM_PORT=str(port),
                     SLM_SERVED_MODEL_NAME=SERVED_NAME, SLM_LOG_LEVEL="warning", **settings)
    process = subprocess.Popen([sys.executable, "-m", STANDALONE_PACKAGE], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, process)
        yield ServerProcess(process, port)
    finally:
        stop(process)


def request_bytes(method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 request exactly as written; Content-Length is added for a body unless a header sets framing."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    fields = dict(headers or {})
    if body is not None and not any(name.lower() in ("content-length", "transfer-encoding") for name in fields):
        fields["Content-Length"] = str(len(body))
    if body is not None:
        fields.setdefault("Content-Type", "application/json")
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def chat_request(body: dict | bytes, headers: dict[str, str] | None = None) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request_bytes("POST", "/v1/chat/completions", raw, headers)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


class RawConnection:
    """One TCP connection on which requests are written raw and responses read one at a time."""

    def __init__(self, port: int, timeout: float = SOCKET_SECONDS) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._parser = h11.Connection(h11.CLIENT)

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> RawResponse:
        """Read one whole response (a client that sent its request raw still reads with a real HTTP parser)."""
        if self._parser.our_state is h11.DONE and self._parser.their_state is h11.DONE:
            self._parser.start_next_cycle()
        if self._parser.our_state is h11.IDLE:
            # h11 must believe it sent a request to parse the answer; the bytes really sent were raw
            self._parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            self._parser.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = self._parser.next_event()
            if event is h11.NEED_DATA:
                self._parser.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {name.decode().lower(): value.decode() for name, value in event.headers}
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return RawResponse(status, headers, body)

    def closed_by_server(self, wait: float = 5.0) -> bool:
        """True when the server closes its side within `wait` seconds (a read returns end of file)."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def exchange(port: int, data: bytes, timeout: float = SOCKET_SECONDS) -> RawResponse:
    """Send one raw request on a new connection and read its response."""
    with RawConnection(port, timeout) as connection:
        connection.send(data)
        return connection.response()
