"""HTTP/1.1 over a plain socket, byte for byte: no client library normalises what the tests send."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass


@dataclass
class RawResponse:
    """One parsed response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def names(self) -> set[str]:
        """All header names, lower-cased."""
        return {k.lower() for k, _ in self.headers}


def request_bytes(method: str, target: str | bytes, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """A request with Host and, for a body, Content-Length; `target` is sent exactly as given."""
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [f"{method} ".encode() + raw_target + b" HTTP/1.1", b"Host: gateway"]
    fields = dict(headers or {})
    if body and "Content-Length" not in fields and "Transfer-Encoding" not in fields:
        fields["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}".encode("latin-1") for k, v in fields.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    """A loopback connection with a read timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


class Reader:
    """Reads responses one after another from a socket (keep-alive and 100 Continue aware)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self._fill():
                raise ConnectionError("connection closed mid-response")
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed mid-line")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def response(self, head_only: bool = False) -> RawResponse:
        """The next response; `head_only` for answers to HEAD."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed before a response head")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in header_lines)]
        response = RawResponse(status, headers, b"", head)
        if head_only or status < 200 or status in (204, 304):
            return response
        if (response.header("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                chunks.append(self._take(size))
                self._line()
            response.body = b"".join(chunks)
        elif response.header("Content-Length") is not None:
            response.body = self._take(int(response.header("Content-Length") or 0))
        else:
            while self._fill():
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def closed_by_peer(self, within: float) -> bool:
        """Whether the server closes the connection within `within` seconds (sending nothing more)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buffer += data
        return False


def exchange(port: int, data: bytes, timeout: float = 10.0) -> RawResponse:
    """Send bytes on a new connection and read one response (without a body if the request was a HEAD)."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return Reader(sock).response(head_only=data.startswith(b"HEAD "))
