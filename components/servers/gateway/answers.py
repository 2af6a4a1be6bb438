"""What a request handler gives back: a reply the server writes whole, or a note that the relay wrote the answer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Mapping, NamedTuple

SERVER_LINE = "Server: slm-gateway\r\n"
REASONS = {status.value: status.phrase for status in HTTPStatus}
_date_second = -1
_date_line = ""


class Version(NamedTuple):
    """An HTTP version, comparable with (1, 1)."""

    major: int
    minor: int


def date_header() -> str:
    """The Date header line, formatted once a second."""
    global _date_second, _date_line
    now = int(time.time())
    if now != _date_second:
        _date_second, _date_line = now, f"Date: {formatdate(now, usegmt=True)}\r\n"
    return _date_line


def status_line(version: Version, status: int) -> str:
    """The first line of an answer, in the client's HTTP version."""
    return f"HTTP/{version.major}.{version.minor} {status} {REASONS.get(status, '')}\r\n"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer the gateway makes itself (refusals, health, metrics): small, whole, written at once."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] | None = None
    close: bool = False  # the connection ends after it (requests pipelined behind are dropped unanswered)

    def encode(self, version: Version, head_only: bool, keep_alive: bool) -> bytes:
        """The whole answer on the wire: head and (except for HEAD) body."""
        lines = [status_line(version, self.status), SERVER_LINE, date_header(),
                 f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n"]
        if self.headers:
            lines.extend(f"{name}: {value}\r\n" for name, value in self.headers.items())
        if keep_alive and version < (1, 1):
            lines.append("Connection: keep-alive\r\n")
        elif not keep_alive and version >= (1, 1):
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        return head if head_only else head + self.body


@dataclass(frozen=True, slots=True)
class Relayed:
    """An answer the relay already wrote to the client: only its status and whether the connection stays open."""

    status: int
    keep_alive: bool


Answer = Reply | Relayed
