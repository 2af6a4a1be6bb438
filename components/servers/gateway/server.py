"""aiohttp's low-level HTTP server, hardened for the open internet.

What it adds to aiohttp's connection protocol: a deadline for each request head, a deadline for
every write (answers and refusals alike: a client that stops reading is cut off), a cap on open
connections (the oldest idle or write-blocked connection makes room first), cancellation of the
handler when the client goes away, and OpenAI-shaped answers, logged below ERROR and counted, for
requests the HTTP parser rejects (aiohttp's own plain-text answer repeats the offending bytes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from slm_deploy.servers.gateway import errors

log = logging.getLogger("slm_gateway.server")

# A request head (request line and headers) larger than this is refused: aiohttp's own limits
# (8190 bytes a line, 128 headers) would let one connection hold about a megabyte.
MAX_HEAD_BYTES = 64 * 1024
# A client's unread answer held in its transport before the relay stops reading the runtime for it, and the level
# it must drain to before the relay goes on (set explicitly: event loops pick their own defaults).
CLIENT_HIGH_WATER_BYTES = 64 * 1024
CLIENT_LOW_WATER_BYTES = 16 * 1024

Observer = Callable[[str, int], None]
"""Told (reason, status) for every connection or request refused below the request handler; status 0 if none was sent."""


class GatewayServer(web.Server):
    """A low-level server whose connections are GatewayConnections, with a connection cap."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        max_connections: int,
        header_timeout: float,
        idle_timeout: float,
        send_timeout: float,
        observer: Observer,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            handler, handler_cancellation=True, keepalive_timeout=idle_timeout, access_log=None,
            auto_decompress=False, **kwargs,
        )
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.send_timeout = send_timeout
        self.observer = observer

    def __call__(self) -> GatewayConnection:
        return GatewayConnection(self, loop=self._loop, **self._kwargs)

    def admit(self) -> bool:
        """Make room for one more connection: below the cap, or by closing the oldest idle or write-blocked one."""
        if len(self._connections) < self.max_connections:
            return True
        idle = next((c for c in self._connections if isinstance(c, GatewayConnection) and c.evictable), None)
        if idle is None:
            self.observer("connection_limit", 503)
            return False
        idle.evict()
        self.observer("idle_connection_evicted", 0)
        return True


class GatewayConnection(RequestHandler):
    """One client connection: aiohttp's protocol plus a request-head deadline and JSON error answers."""

    _head_timer: asyncio.TimerHandle | None = None
    _send_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _refused = False
    _body: StreamReader | None = None  # the body of the last request head parsed
    _wire: asyncio.Transport | None = None  # kept after force_close, which forgets the transport while it flushes
    _drained: asyncio.Future[None] | None = None

    @property
    def awaiting_head(self) -> bool:
        """No request is being handled, queued or still sending its body: the next bytes start a head."""
        receiving_body = self._body is not None and not self._body.is_eof()
        return not self._request_in_progress and not self._messages and not receiving_body

    @property
    def idle(self) -> bool:
        """Waiting for a request head: the connection only holds a file descriptor."""
        return self.awaiting_head and not self._force_close

    @property
    def evictable(self) -> bool:
        """Idle, or blocked writing to a client that does not read: either only holds a file descriptor."""
        return self.idle or self._send_timer is not None

    def evict(self) -> None:
        """Close now, without waiting to flush what the client has not read (force_close would wait)."""
        if self._wire is not None:
            self._wire.abort()
        self.force_close()

    def force_close(self) -> None:
        """Close once the client has read what it was sent, within the send timeout."""
        if self._wire is not None and self._wire.get_write_buffer_size():
            self._arm_send_deadline()
        super().force_close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        assert isinstance(server, GatewayServer)
        if not server.admit():
            self._refused = True
            self._manager = None  # connection_lost then has nothing to undo
            transport.write(errors.raw_error("too_many_connections", "Retry-After: 1\r\n"))  # type: ignore[attr-defined]
            transport.close()
            return
        transport.set_write_buffer_limits(  # type: ignore[attr-defined]
            high=CLIENT_HIGH_WATER_BYTES, low=CLIENT_LOW_WATER_BYTES)
        super().connection_made(transport)
        self._wire = transport  # type: ignore[assignment]
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.awaiting_head:
            if self._head_timer is None:
                self._arm_head_deadline()
            self._head_bytes += len(data)
        heads_before = self._request_count
        super().data_received(data)
        if self._request_count != heads_before:
            self._body = self._messages[-1][1] if self._messages else None
            self._head_bytes = 0
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif self._head_bytes > MAX_HEAD_BYTES and self.idle and self.transport is not None:
            if isinstance(self._manager, GatewayServer):
                self._manager.observer("request_header_fields_too_large", 431)
            self.transport.write(errors.raw_error("request_header_fields_too_large"))
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._send_timer = None
        self._wire = None
        self._wake_writer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client is not reading what it is sent: it has the send timeout to catch up."""
        super().pause_writing()
        self._arm_send_deadline()

    def _arm_send_deadline(self) -> None:
        server = self._manager
        if isinstance(server, GatewayServer) and self._send_timer is None:
            self._send_timer = self._loop.call_later(server.send_timeout, self._send_deadline_passed)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        self._wake_writer()

    async def writable(self) -> None:
        """Wait while the client's transport is above its high-water mark (until it reads, or the connection ends)."""
        while self.writing_paused and self.transport is not None:
            self._drained = self._loop.create_future()
            await self._drained

    def _wake_writer(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _send_deadline_passed(self) -> None:
        """A write stayed blocked for the whole send timeout: drop the connection and what it has not read."""
        self._send_timer = None
        if isinstance(self._manager, GatewayServer):
            self._manager.observer("send_timeout", 0)
        self.evict()

    def _arm_head_deadline(self) -> None:
        server = self._manager
        if isinstance(server, GatewayServer):
            self._head_timer = self._loop.call_later(server.header_timeout, self._head_deadline_passed)

    def _head_deadline_passed(self) -> None:
        """A request head did not arrive in time: close without an answer, as Go's and nginx's servers do."""
        self._head_timer = None
        server = self._manager
        if isinstance(server, GatewayServer) and self.idle:
            server.observer("header_timeout", 0)
            self.force_close()

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """Answer in the OpenAI shape without repeating any of the request; malformed input is not an ERROR."""
        kind = type(exc).__name__ if exc is not None else "unknown"
        if status >= 500:
            code = "internal_error"
            log.error("request failed inside the gateway: %s", kind)
        else:
            code = "malformed_request"
            log.info("malformed request refused: %s", kind)
        if isinstance(self._manager, GatewayServer):
            self._manager.observer(code, errors.ERRORS[code][0])
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; the connection is closed instead")
        response = errors.error_response(code)
        response.force_close()
        return response
