"""aiohttp's low-level HTTP server, hardened for the open internet.

What it adds to aiohttp's connection protocol: a deadline for each request head, a cap on open
connections (the oldest idle connection makes room first), cancellation of the handler when the
client goes away, and OpenAI-shaped answers, logged below ERROR and counted, for requests the
HTTP parser rejects (aiohttp's own plain-text answer repeats the offending bytes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from slm_deploy.servers.gateway import errors

log = logging.getLogger("slm_gateway.server")

# A request head (request line and headers) larger than this is refused: aiohttp's own limits
# (8190 bytes a line, 128 headers) would let one connection hold about a megabyte.
MAX_HEAD_BYTES = 64 * 1024

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
        observer: Observer,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            handler, handler_cancellation=True, keepalive_timeout=idle_timeout, access_log=None,
            auto_decompress=False, **kwargs,
        )
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.observer = observer

    def __call__(self) -> GatewayConnection:
        return GatewayConnection(self, loop=self._loop, **self._kwargs)

    def admit(self) -> bool:
        """Make room for one more connection: below the cap, or by closing the oldest idle one."""
        if len(self._connections) < self.max_connections:
            return True
        idle = next((c for c in self._connections if isinstance(c, GatewayConnection) and c.idle), None)
        if idle is None:
            self.observer("connection_limit", 503)
            return False
        idle.force_close()
        self.observer("idle_connection_evicted", 0)
        return True


class GatewayConnection(RequestHandler):
    """One client connection: aiohttp's protocol plus a request-head deadline and JSON error answers."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _refused = False

    @property
    def idle(self) -> bool:
        """No request is being handled or waiting: the connection only holds a file descriptor."""
        return not self._request_in_progress and not self._messages and not self._force_close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        assert isinstance(server, GatewayServer)
        if not server.admit():
            self._refused = True
            self._manager = None  # connection_lost then has nothing to undo
            transport.write(errors.raw_error("too_many_connections", "Retry-After: 1\r\n"))  # type: ignore[attr-defined]
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_timer is None and not self._request_in_progress and not self._messages:
            self._arm_head_deadline()
        if self._head_timer is not None:
            self._head_bytes += len(data)
        heads_before = self._request_count
        super().data_received(data)
        if self._request_count != heads_before:
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
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

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


class SendWatchdog:
    """Aborts a client connection when one write to it stays blocked longer than the send timeout.

    The relay sets `blocked_since` (from `clock`) before each write and clears it after; one timer
    per response checks it, so a write costs two assignments rather than a timer of its own.
    """

    def __init__(self, request: web.BaseRequest, timeout: float, on_stall: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self.clock = self._loop.time
        self._request = request
        self._timeout = timeout
        self._on_stall = on_stall
        self.blocked_since: float | None = None
        self._handle = self._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        since = self.blocked_since
        if since is not None and self.clock() - since >= self._timeout:
            self._on_stall()
            if self._request.transport is not None:
                self._request.transport.abort()  # close() would wait for the unread data to drain
            return
        self._handle = self._loop.call_later(self._timeout, self._check)

    def stop(self) -> None:
        """Stop watching."""
        self._handle.cancel()
