"""One client request as the proxy sees it: its head as parsed, and its body as a bounded stream."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from multidict import CIMultiDict

from slm_deploy.servers.gateway.answers import Version

if TYPE_CHECKING:
    from slm_deploy.servers.gateway.server import GatewayConnection

# Body bytes held for a handler that has not read them before the connection stops reading the client.
BODY_HIGH_WATER_BYTES = 128 * 1024


class MalformedBody(Exception):
    """The body's framing broke (bad chunk sizes, a chunk longer than its size): the request cannot be forwarded."""


class ReadControl(Protocol):
    """The connection's switch for reading from the client, which a body with too much unread data turns off."""

    def hold_reading(self, reason: str) -> None: ...

    def release_reading(self, reason: str) -> None: ...


class RequestBody:
    """A request body as it arrives: the parser feeds it, the handler reads it; past the high-water mark the
    connection stops reading the client until the handler catches up."""

    __slots__ = ("_chunks", "_size", "_done", "_error", "_waiter", "_control", "_discarding")

    def __init__(self, control: ReadControl) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._control = control
        self._discarding = False  # the request was answered: what still arrives of its body is dropped

    @property
    def complete(self) -> bool:
        """Every byte of the body arrived, well framed."""
        return self._done and self._error is None

    def feed(self, data: bytes) -> None:
        """Bytes of the body, unframed (called by the parser)."""
        if self._discarding:
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > BODY_HIGH_WATER_BYTES:
            self._control.hold_reading("body")
        self._wake()

    def finish(self) -> None:
        """The body's end arrived."""
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """The body can never complete: its framing broke, or the client left."""
        if not self._done:
            self._error = error
            self._done = True
            self._wake()

    def read_nowait(self) -> bytes:
        """Everything received and not read yet."""
        data = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks.clear()
        self._size = 0
        self._control.release_reading("body")
        return data

    def discard(self) -> None:
        """Drop what the handler left unread and what still arrives, so a refused body no longer stops reading."""
        self._discarding = True
        if self._chunks:
            self.read_nowait()

    async def read_chunk(self) -> bytes:
        """What arrived since the last read, waiting for some; b"" at the body's end."""
        while not self._chunks and not self._done:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._chunks:
            return self.read_nowait()
        if self._error is not None:
            raise self._error
        return b""

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class GatewayRequest:
    """What the proxy and the relay need of a request, nothing more (no URL objects, no cookies, no payload classes)."""

    __slots__ = ("method", "raw_path", "version", "headers", "keep_alive", "content_length", "body_exists", "body",
                 "remote", "scheme", "connection", "answer_started")

    def __init__(
        self, method: str, raw_path: str, version: Version, headers: CIMultiDict[str], keep_alive: bool,
        content_length: int | None, chunked: bool, connection: GatewayConnection,
    ) -> None:
        self.method = method
        self.raw_path = raw_path
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.body_exists = chunked or bool(content_length)
        self.body = RequestBody(connection)
        self.remote = connection.peer
        self.scheme = connection.scheme
        self.connection = connection
        self.answer_started = False  # set once a byte of the answer is on the wire: a failure then drops the connection

    @property
    def transport(self) -> asyncio.Transport | None:
        """The client's transport, None once the connection is gone."""
        return self.connection.transport

    def send_continue(self) -> None:
        """Invite the body of a request that sent `Expect: 100-continue` (an interim answer, not the answer)."""
        transport = self.connection.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
