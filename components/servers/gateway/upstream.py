"""A lean HTTP/1.1 client for the one runtime the gateway relays to: pooled keep-alive connections, llhttp parsing.

The request head is written as bytes, the response is parsed by llhttp (httptools) and its body handed over as
the bytes that arrived, coalesced between reads. The socket is read into one small buffer per connection, and
reading stops while the body not yet taken passes a high-water mark, so a stalled reader holds a bounded body.
A connection goes back to the pool only after a complete, keep-alive response to a request that was written
whole; one that was cancelled, timed out, failed, answered before its body was sent, or gave an answer that has
no body (HEAD, 101, 204, 304) is closed, so a pooled connection is never reused mid-exchange and bytes a runtime
sends where no body belongs never reach a client.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from slm_deploy.servers.gateway.server import MAX_HEAD_BYTES

# Body bytes held for a reader that has not taken them yet before the runtime's socket stops being read.
HIGH_WATER_BYTES = 64 * 1024
# Bytes read from the runtime's socket at a time (the event loop's own reads are 256 KiB): at most this much
# arrives past the high-water mark before reading stops.
READ_BYTES = 16 * 1024
# A pooled connection unused this long is closed (aiohttp's client keeps them 15 s too).
IDLE_SECONDS = 15.0
# Header lines one response head may hold (aiohttp's client allowed 32768; real runtimes send under 20).
MAX_HEAD_FIELDS = 128
# Request body bytes handed to the socket per write while the runtime keeps reading (the transport's high water).
WRITE_PIECE_BYTES = 64 * 1024
# Final statuses whose answer has no body: whatever follows the head is not a body a client may see.
BODILESS_STATUSES = frozenset({101, 204, 304})


class UpstreamError(Exception):
    """The runtime broke the exchange before its answer's head: it closed the connection early."""

    reason = "connect"  # the slm_gateway_upstream_errors_total reason
    code = "upstream_unavailable"  # the error the client gets


class UpstreamProtocolError(UpstreamError):
    """The runtime's answer is not HTTP the gateway may relay: bad framing, an oversized head, an invalid status."""

    reason = "protocol"
    code = "upstream_error"


class UnsafeRequestHead(UpstreamError):
    """A value bound for the request head holds CR, LF or NUL; nothing was sent."""

    reason = "unsafe_request_head"
    code = "upstream_error"


class UpstreamConnectError(UpstreamError):
    """No connection to the runtime could be opened: nothing was sent, so sending again is safe."""


class UpstreamConnectTimeout(UpstreamConnectError, TimeoutError):
    """Opening a connection to the runtime took longer than the connect deadline."""


@dataclass(frozen=True)
class Origin:
    """Where the runtime listens, and the bytes every request head to it starts its host line with."""

    host: str
    port: int
    base_path: str
    ssl: ssl.SSLContext | None
    host_line: bytes

    @classmethod
    def from_url(cls, url: str) -> Origin:
        """Parse an http:// or https:// URL once (the config has checked its form)."""
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        host = parts.hostname or ""
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == (443 if secure else 80) else f"{shown}:{port}"
        return cls(host, port, parts.path.rstrip("/"), ssl.create_default_context() if secure else None,
                   f"Host: {host_header}\r\n".encode("ascii"))


class _BodilessAnswer(Exception):
    """Raised from llhttp's head callback to stop parsing where an answer without a body ends."""


class _Connection(asyncio.BufferedProtocol):
    """One socket to the runtime and the response being parsed on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._read_view = memoryview(bytearray(READ_BYTES))
        self.transport: asyncio.Transport | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self.parser: httptools.HttpResponseParser | None = None
        self.head_only = False
        self.head_bytes = 0
        self.unsent: memoryview | None = None
        self.write_paused = False
        self.unframed = 0  # bytes received since the head began or body bytes last arrived (what llhttp may hold)
        self.status = 0
        self.header_list: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] | None = None
        self.headers_done = False
        self.informational = False
        self.until_eof = False
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._read_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        """Parse what the runtime sent (llhttp copies the body bytes it hands over)."""
        if self.parser is None:  # bytes nobody asked for: this connection can carry nothing more
            self.abort()
            return
        self.unframed += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.complete:  # bytes after the response, or a bodiless answer: it stands, the socket is dropped
                self.keep_alive = False
            else:
                cause = exc.__context__
                self._fail(cause if isinstance(cause, UpstreamError)
                           else UpstreamProtocolError("the runtime sent a response llhttp rejects"))
            self.abort()
            return
        # llhttp holds a head's or a trailer's lines however long they grow: the gateway stops them
        if self.unframed > MAX_HEAD_BYTES and not self.complete:
            self._fail(UpstreamProtocolError("the runtime's response head or trailers are too large"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.parser is not None and not self.complete:
            if self.headers_done and self.until_eof:
                self.on_message_complete()  # a body delimited by the end of the connection
            else:
                self._fail(UpstreamError("the runtime closed the connection mid-response"))

    def pause_writing(self) -> None:
        """The runtime is not reading the request body fast enough: hand the socket no more of it for now."""
        self.write_paused = True

    def resume_writing(self) -> None:
        """The runtime drained the socket's buffer: write on."""
        self.write_paused = False
        self._send_body()

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise UpstreamError("the runtime sent more than the response asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:  # trailers are parsed and dropped
            self.head_bytes += len(name) + len(value) + 4
            if len(self.header_list) >= MAX_HEAD_FIELDS or self.head_bytes > MAX_HEAD_BYTES:
                raise UpstreamProtocolError("the runtime's response head is too large")
            self.header_list.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if not 100 <= status <= 599:
            raise UpstreamProtocolError("the runtime answered with a status outside 100-599")
        if 100 <= status < 200 and status != 101:
            self.informational = True  # interim responses are not relayed; llhttp parses the final one next
            return
        self.status, self.headers_done, self.unframed = status, True, 0
        framing = {name.lower() for name, _ in self.header_list}
        self.until_eof = b"content-length" not in framing and b"transfer-encoding" not in framing
        bodiless = self.head_only or status in BODILESS_STATUSES
        if bodiless:  # llhttp would read on (a HEAD answer's body, a switched protocol): the exchange ends here
            self.complete, self.keep_alive = True, False
        if self.head is not None and not self.head.done():
            self.head.set_result(None)
        if bodiless:
            raise _BodilessAnswer

    def on_body(self, body: bytes) -> None:
        self.unframed = 0
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered >= HIGH_WATER_BYTES and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        waiter = self.waiter  # _wake, inlined: this runs once per HTTP chunk
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            self.header_list, self.head_bytes = [], 0
            return
        assert self.parser is not None
        self.keep_alive = not self.until_eof and self.parser.should_keep_alive()
        self.complete = True
        self._wake()

    # -- exchange -------------------------------------------------------------------------

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        self._wake()

    def abort(self) -> None:
        """Drop the socket now, whatever it holds or has still to send."""
        self.unsent = None
        if self.transport is not None:
            self.transport.abort()

    def begin(self, head: bytes, body: bytes, head_only: bool) -> asyncio.Future[None]:
        """Send one request; the future completes when the final response head has arrived."""
        assert self.transport is not None
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        self._reset()
        self.head_only = head_only
        self.parser = httptools.HttpResponseParser(self)
        self.head = self.loop.create_future()
        self.transport.write(head + body[:WRITE_PIECE_BYTES])
        if len(body) > WRITE_PIECE_BYTES:
            self.unsent = memoryview(body)[WRITE_PIECE_BYTES:]
            self._send_body()
        return self.head

    def _send_body(self) -> None:
        """Hand the socket the body a piece at a time while the runtime reads it; a complete answer ends the upload.

        What is still unsent then stays unsent, and the socket is not reused: the runtime expects the rest.
        """
        while self.unsent and not self.write_paused and not self.complete and self.transport is not None:
            piece, self.unsent = self.unsent[:WRITE_PIECE_BYTES], self.unsent[WRITE_PIECE_BYTES:]
            self.transport.write(piece)
        if not self.unsent:
            self.unsent = None

    @property
    def reusable(self) -> bool:
        """A complete keep-alive exchange on an open socket, the request written whole and nothing unread."""
        return (self.complete and self.keep_alive and self.error is None and not self.chunks
                and not self.unsent and self.transport is not None and not self.transport.is_closing()
                and not self.transport.get_write_buffer_size())


class UpstreamResponse:
    """The runtime's answer: status, headers, and its body as it arrives."""

    def __init__(self, pool: UpstreamPool, connection: _Connection, read_timeout: float | None):
        self._pool = pool
        self._connection = connection
        self._read_timeout = read_timeout
        self.status = connection.status
        self.headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
            for name, value in connection.header_list
        )
        self._done = False

    @property
    def buffered(self) -> int:
        """Body bytes received from the runtime and not read yet."""
        return self._connection.buffered

    async def read(self) -> bytes:
        """Every body byte that has arrived since the last read, waiting for some; b"" once the body is complete.

        Raises TimeoutError when nothing arrives within the read timeout, UpstreamError when the body is cut short.
        """
        conn = self._connection
        while not conn.chunks:
            if conn.error is not None:
                raise conn.error
            if conn.complete:
                return b""
            conn.waiter = conn.loop.create_future()
            timer = (conn.loop.call_later(self._read_timeout, _expire, conn.waiter)
                     if self._read_timeout else None)
            try:
                await conn.waiter
            finally:
                conn.waiter = None
                if timer is not None:
                    timer.cancel()
        data = conn.chunks[0] if len(conn.chunks) == 1 else b"".join(conn.chunks)
        conn.chunks.clear()
        conn.buffered = 0
        if conn.paused and conn.transport is not None:
            conn.paused = False
            conn.transport.resume_reading()
        return data

    def release(self) -> None:
        """The body was read to its end: pool the connection if it can carry another request, else close it."""
        if not self._done:
            self._done = True
            self._pool.put(self._connection)

    def close(self) -> None:
        """Abandon the response: the connection is dropped, never reused."""
        if not self._done:
            self._done = True
            self._connection.abort()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class UpstreamPool:
    """Keep-alive connections to one runtime, one per request in flight."""

    def __init__(self, url: str) -> None:
        self.origin = Origin.from_url(url)
        self._idle: list[_Connection] = []

    def request_head(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> bytes:
        """The request line and headers as bytes, refused if a value could end a line or split the head.

        The gateway's request parser (llhttp) already refuses CR, LF and NUL in what clients send; this holds for
        every other source.
        """
        lines = [f"{method} {self.origin.base_path}{target} HTTP/1.1\r\n".encode("ascii"), self.origin.host_line]
        lines += [f"{name}: {value}\r\n".encode("utf-8", "surrogateescape") for name, value in headers]
        if body is not None:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        head = b"".join(lines)
        if head.count(b"\r") != len(lines) or head.count(b"\n") != len(lines) or b"\0" in head:
            raise UnsafeRequestHead("a request head value holds CR, LF or NUL")
        return head

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
        connect_timeout: float, read_timeout: float | None,
    ) -> UpstreamResponse:
        """Send a request and wait for the final response head; a cancelled or failed wait drops the connection."""
        request_head = self.request_head(method, target, headers, body)
        connection = await self._acquire(connect_timeout)
        loop = connection.loop
        head = connection.begin(request_head, body or b"", head_only=method == "HEAD")
        timer = loop.call_later(read_timeout, _expire, head) if read_timeout else None
        try:
            await head
        except BaseException:
            connection.abort()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return UpstreamResponse(self, connection, read_timeout)

    async def _acquire(self, connect_timeout: float) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None and not connection.transport.is_closing():
                return connection
        loop = asyncio.get_running_loop()
        origin = self.origin
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(loop), origin.host, origin.port, ssl=origin.ssl,
                )
        except TimeoutError:
            raise UpstreamConnectTimeout("connecting to the runtime timed out") from None
        except OSError as exc:
            raise UpstreamConnectError(f"cannot connect to the runtime: {type(exc).__name__}") from None
        return protocol

    def put(self, connection: _Connection) -> None:
        """Pool a connection that finished its exchange cleanly; close any other."""
        if not connection.reusable:
            connection.abort()
            return
        connection.parser = None
        connection.idle_timer = connection.loop.call_later(IDLE_SECONDS, connection.abort)
        self._idle.append(connection)

    def close(self) -> None:
        """Close every pooled connection."""
        for connection in self._idle:
            connection.abort()
        self._idle.clear()
