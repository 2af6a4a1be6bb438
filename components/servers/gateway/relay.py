"""The runtime's answer written straight to the client's transport: the head once, then one write per upstream read.

The head is formatted once from the filtered headers, each upstream read becomes one transport write (one chunk
for an HTTP/1.1 client when the length is unknown, the bytes as they are otherwise), and a client whose transport is above its high-water mark pauses the relay until it reads: the
stalled-reader deadline of the connection (`GatewayConnection`) still cuts it off.
"""

from __future__ import annotations

import asyncio
from typing import Iterable

from slm_deploy.servers.gateway.answers import SERVER_LINE, Relayed, date_header, status_line
from slm_deploy.servers.gateway.request import GatewayRequest

LAST_CHUNK = b"0\r\n\r\n"
# Answers that never carry a body (RFC 9110 6.4.1), whatever their headers say.
EMPTY_STATUSES = frozenset({204, 304})


class ClientStream:
    """One relayed response on the client's connection: its head, its body as it arrives, its end."""

    def __init__(self, request: GatewayRequest, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self._request = request
        empty = request.method == "HEAD" or status in EMPTY_STATUSES
        lines = [status_line(request.version, status), SERVER_LINE, date_header()]
        length = content_type = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                if status in EMPTY_STATUSES:
                    continue
                length = True
            elif lowered == "content-type":
                content_type = True
            lines.append(f"{name}: {value}\r\n")
        self.chunked = not empty and not length and request.version >= (1, 1)
        # An HTTP/1.0 client without a length learns the body's end from the connection's close.
        keep_alive = request.keep_alive and (empty or length or self.chunked)
        if self.chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        if not empty and not content_type:
            lines.append("Content-Type: application/octet-stream\r\n")
        if keep_alive and request.version < (1, 1):
            lines.append("Connection: keep-alive\r\n")
        elif not keep_alive and request.version >= (1, 1):
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        self._head = "".join(lines).encode("utf-8", "surrogateescape")
        self.response = Relayed(status, keep_alive)
        self._empty = empty

    def _transport(self) -> asyncio.Transport:
        transport = self._request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client's connection is closed")
        return transport

    @property
    def buffered(self) -> int:
        """Bytes written to the client's transport that its socket has not taken yet."""
        transport = self._request.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def start(self) -> None:
        """Send the head (a later failure then drops the connection instead of answering again)."""
        self._transport().write(self._head)
        self._request.answer_started = True

    async def write(self, data: bytes) -> None:
        """One upstream read, as one write; wait while the client has not read what it was sent."""
        if self._empty:
            return
        transport = self._transport()
        if self.chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)
        connection = self._request.connection
        if connection.writing_paused:
            await connection.writable()

    def end(self) -> None:
        """Close the body with the last chunk; otherwise its length, or the connection's close, ends it."""
        if self.chunked:
            self._transport().write(LAST_CHUNK)
