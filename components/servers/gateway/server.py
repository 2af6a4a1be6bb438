"""The gateway's HTTP/1.x server: llhttp (through httptools) parsing requests, hardened for the open internet.

Each connection is one asyncio protocol: requests are parsed as bytes arrive and handled one at a time, in order
(what follows a complete request waits unparsed until it is answered, and the connection stops reading meanwhile).
Hardening: a deadline for each request head and limits on its size (64 KiB in all, 8190 bytes a line or field, 128
fields, trailer fields included; the same 64 KiB for a chunked body's framing and trailers, counted as they arrive),
an idle keep-alive timeout, a deadline for every write (a client that stops reading is cut off), a cap on open
connections, counted from accept (TLS handshakes included; the oldest idle, handshaking, lingering, closed-and-sent
or stalled one makes room first), cancellation of the handler when the client goes away, and OpenAI-shaped answers,
logged below ERROR and counted, for requests the parser rejects (nothing of the request is repeated). The parser
runs without any of llhttp's leniencies, and the checks aiohttp's server added on top of llhttp are kept: field and
line limits, a Host header in HTTP/1.1, no NUL in a field value, no repeated singleton field, no Sec-WebSocket-Key1,
trailing blanks stripped from values, and a request target in a form HTTP allows.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from collections import deque
from typing import Awaitable, Callable, cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from slm_deploy.servers.gateway import errors
from slm_deploy.servers.gateway.answers import Answer, Relayed, Reply, Version
from slm_deploy.servers.gateway.request import GatewayRequest, MalformedBody

log = logging.getLogger("slm_gateway.server")

# A request head (request line and headers) larger than this is refused with 431: one connection holds no more.
# The same bound holds for a chunked body's framing and trailers (bytes that are not body), refused with 400.
MAX_HEAD_BYTES = 64 * 1024
# Received bytes are parsed in slices: once a request is complete, at most the rest of its slice is parsed before its
# answer is written; what follows waits unparsed (and the connection stops reading). Heads are parsed in small slices
# and a sized body up to its end, so the slice a request ends in holds little after it; a chunked body, whose end
# llhttp finds only by parsing, in large ones.
PARSE_SLICE_BYTES = 16 * 1024
HEAD_SLICE_BYTES = 1024
# What aiohttp's server allowed, kept: a request target, or one header field (name and value), at most this long.
MAX_LINE_BYTES = 8190
MAX_HEADER_FIELDS = 128
# Fields a request may carry once: a second one is refused (two lengths, two hosts could be read two ways).
SINGLETON_FIELDS = frozenset({
    "content-length", "content-location", "content-range", "content-type", "etag", "host", "max-forwards", "server",
    "transfer-encoding", "user-agent",
})
# A client's unread answer held in its transport before the relay stops reading the runtime for it, and the level
# it must drain to before the relay goes on (set explicitly: event loops pick their own defaults).
VERSIONS = {"1.1": Version(1, 1), "1.0": Version(1, 0)}
CLIENT_HIGH_WATER_BYTES = 64 * 1024
CLIENT_LOW_WATER_BYTES = 16 * 1024
# Received TLS records the TLS layer holds undecrypted before it stops reading the socket (its own default, 256 KiB,
# let a connection that stopped parsing still take in about 1 MB of pipelined bytes).
TLS_READ_HIGH_WATER_BYTES = 16 * 1024
# A connection whose client has read nothing of its answer for this long (or half the send timeout, if shorter) may
# make room for a new one at the cap; one that keeps reading, however slowly, is never evicted.
STALLED_READER_SECONDS = 10.0

Observer = Callable[[str, int], None]
"""Told (reason, status) for every connection or request refused below the request handler; status 0 if none was sent."""
Handler = Callable[[GatewayRequest], Awaitable[Answer]]


class _Refused(Exception):
    """A request head the server refuses itself, with the error code of its answer."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _repeats_a_singleton(pairs: list[tuple[str, str]]) -> bool:
    """Whether a field that may appear once appears twice."""
    names = [name.lower() for name, _ in pairs if name.lower() in SINGLETON_FIELDS]
    return len(names) != len(set(names))


def _target_form_allowed(method: str, target: str) -> bool:
    """Origin form, `*` for OPTIONS, authority form for CONNECT, or absolute form with a host (RFC 9112 3.2)."""
    if target.startswith("/"):
        return True
    if target == "*":
        return method == "OPTIONS"
    try:
        if method == "CONNECT":
            return bool(urlsplit("//" + target).hostname)
        return "://" in target and bool(urlsplit(target).hostname)
    except ValueError:
        return False


def _tls_protocol_type(loop: asyncio.AbstractEventLoop) -> Callable[..., asyncio.BaseProtocol]:
    """The running loop's own TLS layer: uvloop's drives uvloop's transports, asyncio's every other loop's."""
    try:
        import uvloop
    except ImportError:
        return sslproto.SSLProtocol
    if isinstance(loop, uvloop.Loop):
        return cast(Callable[..., asyncio.BaseProtocol], uvloop.loop.SSLProtocol)  # type: ignore[attr-defined]
    return sslproto.SSLProtocol


class GatewayServer:
    """One listener's connections: the protocol factory, the connection cap and graceful shutdown."""

    def __init__(
        self, handler: Handler, *, max_connections: int, header_timeout: float, idle_timeout: float,
        send_timeout: float, observer: Observer, tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.loop = asyncio.get_running_loop()
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.observer = observer
        self.tls = tls  # accepted as plain TCP, counted and timed from accept, then the handshake
        self.tls_protocol = _tls_protocol_type(self.loop)
        self.scheme = "https" if tls is not None else "http"
        self.stall_seconds = min(STALLED_READER_SECONDS, send_timeout / 2)
        self.connections: dict[GatewayConnection, None] = {}  # ordered: the oldest first
        self.stopping = False

    def __call__(self) -> GatewayConnection:
        return GatewayConnection(self)

    def admit(self) -> bool:
        """Make room for one more connection: below the cap, or by closing the oldest idle or stalled one."""
        if len(self.connections) < self.max_connections:
            return True
        now = self.loop.time()
        victim = next((c for c in self.connections if c.evictable(now)), None)
        if victim is None:
            self.observer("connection_limit", 503)
            return False
        victim.evict()
        self.observer("idle_connection_evicted", 0)
        return True

    async def shutdown(self, timeout: float) -> None:
        """Close idle connections now, let requests in flight finish for up to `timeout`, then drop the rest."""
        self.stopping = True
        for connection in list(self.connections):
            if connection.idle or connection.handshaking:
                connection.close()
        busy = [c.task for c in self.connections if c.task is not None]
        if busy:
            await asyncio.wait(busy, timeout=timeout)
        for connection in list(self.connections):
            if connection.task is not None:
                connection.evict()
            else:
                connection.close()


class GatewayConnection(asyncio.Protocol):
    """One client connection: parses requests, runs their handler one at a time, writes answers in order."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._raw: asyncio.Transport | None = None  # the TCP connection while its TLS handshake runs
        self._tcp: asyncio.Transport | None = None  # the TCP connection under TLS, whose unsent bytes count as unread
        self._closing = False  # the gateway closed the connection; with TLS the peer's close_notify is awaited
        self.peer = ""
        self.scheme = server.scheme
        self.task: asyncio.Task[None] | None = None  # the handler of the request being answered
        # The one request taken for handling and not finished (handled, answered and its body read): only `_next`
        # takes the next one, so handlers never overlap and answers go out in order.
        self._current: GatewayRequest | None = None
        self.writing_paused = False
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[GatewayRequest | str] = deque()  # parsed requests (or refusal codes) waiting their turn
        self._receiving: GatewayRequest | None = None  # the request whose body is being parsed
        self._in_head = False  # a request head has started and not ended
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._field_count = 0  # header and trailer fields of the request being parsed
        self._upgrade_body = 0  # body bytes still to come of a request that asked for a protocol switch
        self._body_left: int | None = None  # what is left of the sized body being parsed (None: chunked)
        self._head_size = 0  # the head's fields so far, as aiohttp counted them (name, value and 4 bytes each)
        self._unframed = 0  # bytes parsed since the last head or body bytes (what httptools may be holding)
        self._parse_held = False  # a complete request is not answered yet: what follows it waits unparsed
        self._unparsed = b""
        self._parser_done = False  # the parser failed or the protocol changed: nothing more is read
        self._holds: set[str] = set()
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None
        self._next_after_drain = False  # an answer filled the client's buffer: the next request waits for it
        self._admitted = False
        # While writes are blocked: the unread bytes when the client last read some, and when that was.
        self._unread_at_progress = 0
        self._progress_at = 0.0

    # -- state -----------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No request is being answered, queued or sending its body: the connection only holds a file descriptor."""
        return (self._current is None and not self._queue and self._receiving is None and self.transport is not None
                and not self.transport.is_closing())

    @property
    def handshaking(self) -> bool:
        """Accepted, its TLS handshake not finished: it holds no request yet."""
        return self._raw is not None

    @property
    def lingering(self) -> bool:
        """Its request was answered and only the rest of that body, to be dropped, is awaited: it holds nothing."""
        return self._linger_timer is not None and self.task is None and not self._queue

    @property
    def closed_and_sent(self) -> bool:
        """Closed by the gateway with everything it sent handed to the kernel: only the peer's TLS close_notify,
        which nothing needs, is awaited (up to the TLS layer's shutdown timeout)."""
        if not self._closing or self.transport is None:
            return False
        return not self.transport.get_write_buffer_size() and not (self._tcp and self._tcp.get_write_buffer_size())

    def evictable(self, now: float) -> bool:
        """Idle, handshaking, lingering, closed with nothing left to send, or writing to a client that has read
        nothing for the stall time: none of them loses anything it uses."""
        return self.idle or self.handshaking or self.lingering or self.closed_and_sent or self._stalled(now)

    def _stalled(self, now: float) -> bool:
        """Whether the client's unread answer has not shrunk for the stall time (checked only at the cap)."""
        if self._send_timer is None or self.transport is None:
            return False
        unread = self.transport.get_write_buffer_size()
        if unread < self._unread_at_progress:  # the client read some since the last look: that is progress
            self._unread_at_progress, self._progress_at = unread, now
        return now - self._progress_at >= self.server.stall_seconds

    # -- connection --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses
        if self._raw is not None:  # the TLS layer, its handshake done: requests arrive through it from now on
            self._raw = None
            transport.set_read_buffer_limits(high=TLS_READ_HIGH_WATER_BYTES)  # type: ignore[attr-defined]
            self._serve_on(transport)
            return
        if not self.server.admit():
            if self.server.tls is None:  # a TLS client could not read a plain answer: it only sees the close
                transport.write(errors.raw_error("too_many_connections", "Retry-After: 1\r\n"))
            transport.close()
            return
        self._admitted = True
        self.server.connections[self] = None
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""
        self._head_timer = self.loop.call_later(self.server.header_timeout, self._head_deadline_passed)
        if self.server.tls is None:
            self._serve_on(transport)
        else:
            self._start_handshake(transport, self.server.tls)

    def _serve_on(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=CLIENT_HIGH_WATER_BYTES, low=CLIENT_LOW_WATER_BYTES)

    def _start_handshake(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        """Put the loop's own TLS layer between the socket and this protocol before a byte is read (as a listener
        with TLS does, but after the connection was counted); it calls connection_made again once secured."""
        self._raw = self._tcp = raw
        done = self.loop.create_future()
        done.add_done_callback(self._handshake_ended)
        tls = self.server.tls_protocol(self.loop, self, context, done, server_side=True,
                                       ssl_handshake_timeout=self.server.header_timeout)
        raw.set_protocol(tls)
        tls.connection_made(raw)

    def _handshake_ended(self, done: asyncio.Future[None]) -> None:
        """A handshake that failed, timed out or lost its client closes the connection (the TLS layer only tells
        the protocol of connections it secured)."""
        failure = None if done.cancelled() else done.exception()
        if self._raw is None:  # secured
            return
        log.info("TLS handshake failed: %s", type(failure).__name__ if failure is not None else "connection closed")
        raw, self._raw = self._raw, None
        raw.abort()
        self.connection_lost(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._idle_timer, self._send_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._idle_timer = self._send_timer = self._linger_timer = None
        self.transport = self._tcp = None
        if self._admitted:
            self.server.connections.pop(self, None)
        self._queue.clear()
        if self._receiving is not None:
            self._receiving.body.fail(ConnectionResetError("the client left"))
        self._wake_writer()
        if self.task is not None:
            self.task.cancel()

    def close(self) -> None:
        """Close once the client has read what it was sent, within the send timeout."""
        if self._raw is not None:
            self._raw.abort()
            return
        if self.transport is None or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size():
            self._arm_send_deadline()
        self._closing = True
        self.transport.close()

    def evict(self) -> None:
        """Close now, without waiting to flush what the client has not read; it no longer counts as open."""
        self.server.connections.pop(self, None)
        if self._raw is not None:
            self._raw.abort()
        elif self.transport is not None:
            self.transport.abort()

    def hold_reading(self, reason: str) -> None:
        """Stop reading the client (a body not read yet, or a pipelined request waiting)."""
        if not self._holds:
            self._pause_transport()
        self._holds.add(reason)

    def _pause_transport(self) -> None:
        """Stop reading, down to the socket: the TLS layer would go on reading it into its own buffer."""
        if self.transport is not None:
            self.transport.pause_reading()
            if self._tcp is not None:
                self._tcp.pause_reading()

    def release_reading(self, reason: str) -> None:
        if reason in self._holds:
            self._holds.discard(reason)
            if not self._holds and self.transport is not None and (not self._parser_done or self._upgrade_body):
                self.transport.resume_reading()
                if self._tcp is not None:
                    self._tcp.resume_reading()

    # -- parsing -----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._upgrade_body:
            self._feed_upgrade_body(data)
            return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        """Parse slice by slice, stopping once a request is complete and keeping the rest for after its answer."""
        start = 0
        while start < len(data):
            if self._upgrade_body:  # the rest of a protocol-switch request's body, which llhttp does not parse
                self._feed_upgrade_body(data[start:])
                return
            if self._parser_done or self.transport is None or self.transport.is_closing():
                return
            if self._parse_held:
                self._unparsed += data[start:]
                self.hold_reading("pipelined")
                return
            end = start + self._slice_size()
            self._parse_slice(data[start:end])
            start = end

    def _slice_size(self) -> int:
        """A head's slice, the rest of a sized body (up to a large slice), or a large slice of a chunked body."""
        if self._receiving is None or self._in_head:
            return HEAD_SLICE_BYTES
        if self._body_left is None:
            return PARSE_SLICE_BYTES
        return max(1, min(self._body_left, PARSE_SLICE_BYTES))

    def _parse_slice(self, data: bytes) -> None:
        if self._receiving is None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.server.header_timeout, self._head_deadline_passed)
        self._unframed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as switch:
            self._parser_done = True  # what follows the request would be another protocol: nothing more is parsed
            if self._upgrade_body:
                self._feed_upgrade_body(data[switch.args[0]:])
            else:
                self._stop_parsing()
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            self._parse_failed(cause.code if isinstance(cause, _Refused) else "malformed_request", cause or exc)
        else:
            if self._unframed > MAX_HEAD_BYTES:  # an endless head, field, chunk line or trailer: llhttp keeps it all
                self._parse_failed("request_header_fields_too_large", None)

    def on_message_begin(self) -> None:
        self._in_head = True
        self._url = b""
        self._fields = []
        self._field_count = 0
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        if len(self._url) + len(url) > MAX_LINE_BYTES:
            raise _Refused("malformed_request")
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self._field_count += 1
        if size > MAX_LINE_BYTES or b"\x00" in value or self._field_count > MAX_HEADER_FIELDS:
            raise _Refused("malformed_request")
        if self._in_head:  # trailer fields are counted and dropped: nothing reads them
            self._fields.append((name, value))
            self._head_size += size + 4

    def on_headers_complete(self) -> None:
        parser, fields, url = self._parser, self._fields, self._url
        if len(url) + self._head_size > MAX_HEAD_BYTES:
            raise _Refused("request_header_fields_too_large")
        pairs = [(name.decode("utf-8", "surrogateescape"), value.rstrip(b" \t").decode("utf-8", "surrogateescape"))
                 for name, value in fields]
        headers = CIMultiDict(pairs)
        if _repeats_a_singleton(pairs):
            raise _Refused("malformed_request")
        version = VERSIONS.get(parser.get_http_version()) or Version(*map(int, parser.get_http_version().split(".")))
        method = parser.get_method().decode("ascii")
        target = url.decode("utf-8", "surrogateescape")
        if (version >= (1, 1) and "Host" not in headers) or "Sec-WebSocket-Key1" in headers \
                or not _target_form_allowed(method, target):
            raise _Refused("malformed_request")
        length = headers.get("Content-Length")
        coding = headers.get("Transfer-Encoding")
        chunked = coding is not None
        if coding is not None and [token.strip() for token in coding.lower().split(",")] != ["chunked"]:
            raise _Refused("malformed_request")  # a coding under chunked (gzip) would reach the runtime undecoded
        upgrade = parser.should_upgrade()  # never granted: the request is answered, then the connection closes
        if upgrade and chunked:
            raise _Refused("malformed_request")  # llhttp stops at an upgrade's head; only a sized body is read past it
        self._upgrade_body = int(length) if upgrade and length else 0
        keep_alive = parser.should_keep_alive() and not upgrade
        request = GatewayRequest(method, target, version, headers, keep_alive, int(length) if length else None,
                                 chunked, self)
        self._in_head = False
        self._unframed = 0
        self._body_left = None if chunked else int(length or 0)
        self._receiving = request
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._enqueue(request)

    def on_body(self, body: bytes) -> None:
        self._unframed = 0
        if self._body_left is not None:
            self._body_left -= len(body)
        if self._receiving is not None:
            self._receiving.body.feed(body)

    def on_message_complete(self) -> None:
        if self._receiving is not None and not self._upgrade_body:
            self._receiving.body.finish()
            self._receiving = None
            if self._linger_timer is not None:  # the body of an answered request ended: on to the next one
                self._linger_timer.cancel()
                self._linger_timer = None
                self.loop.call_soon(self._go_on)
        self._parse_held = True

    def _feed_upgrade_body(self, data: bytes) -> None:
        """The sized body of a request that asked for a protocol switch, which llhttp leaves unparsed."""
        part = data[:self._upgrade_body]
        self._upgrade_body -= len(part)
        if self._receiving is not None:
            if part:
                self._receiving.body.feed(part)
            if not self._upgrade_body:
                self._receiving.body.finish()
                self._receiving = None
        if not self._upgrade_body:
            self._stop_parsing()

    def _stop_parsing(self) -> None:
        self._parser_done = True
        self._pause_transport()

    def _parse_failed(self, code: str, cause: BaseException | None) -> None:
        """The parser stopped: a request whose body broke gets the error from its handler; a broken head is
        answered in its turn, and the connection closes after it."""
        self._stop_parsing()
        if self._receiving is not None and not self._in_head:
            self._receiving.body.fail(MalformedBody())
            self._receiving = None
            return
        log.info("malformed request refused: %s", type(cause).__name__ if cause is not None else "head size")
        self._enqueue(code)

    # -- handling ----------------------------------------------------------------------------------

    def _enqueue(self, item: GatewayRequest | str) -> None:
        if self._current is None and not self._queue and not self._next_after_drain:
            self._start(item)
        else:
            self._queue.append(item)

    def _start(self, item: GatewayRequest | str) -> None:
        if isinstance(item, str):  # a head the server refused: answer it, then close
            self.server.observer(item, errors.ERRORS[item][0])
            if self.transport is not None:
                self.transport.write(errors.raw_error(item))
            self.close()
            return
        self._current = item
        self.task = self.loop.create_task(self._serve(item))

    async def _serve(self, request: GatewayRequest) -> None:
        try:
            answer = await self.server.handler(request)
        except Exception as exc:  # a defect in the handler: answer 500 if nothing was sent yet, else drop
            log.error("request failed inside the gateway: %s", type(exc).__name__)
            self.server.observer("internal_error", errors.ERRORS["internal_error"][0])
            if request.answer_started:
                self.task = None
                self.evict()
                return
            answer = errors.error_response("internal_error", close=True)
        self.task = None
        try:
            self._answered(request, answer)
        except Exception as exc:  # an answer that cannot be written: drop the connection, name only the error's type
            log.error("answer could not be written: %s", type(exc).__name__)
            self.server.observer("internal_error", 0)
            self.evict()

    def _answered(self, request: GatewayRequest, answer: Answer) -> None:
        """Write a reply (a relayed answer is on the wire already); then the next request, or wait for one."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        # After a parse failure only the refusal queued for it still needs the connection.
        parser_usable = not self._parser_done or bool(self._queue)
        # A body still arriving after its answer is read and dropped, for up to the header deadline.
        lingering = self._receiving is request and not request.body.complete
        keep_alive = ((request.body.complete or lingering) and not self.server.stopping and parser_usable
                      and (answer.keep_alive if isinstance(answer, Relayed) else request.keep_alive and not answer.close))
        request.body.discard()  # a body the handler left unread no longer stops the connection reading
        if isinstance(answer, Reply):
            transport.write(answer.encode(request.version, request.method == "HEAD", keep_alive))
        if not keep_alive:
            self.close()
        elif lingering:
            self._linger_timer = self.loop.call_later(self.server.header_timeout, self.close)
        else:
            self._go_on()

    def _go_on(self) -> None:
        """After an answer: the next request, once the client reads what it was sent."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.writing_paused:  # the client is not reading: take its next request once it does
            self._next_after_drain = True
        else:
            self._next()

    def _next(self) -> None:
        """Handle the next pipelined request, or wait for one under the idle (or head) deadline."""
        self._current = None
        if self._queue:
            item = self._queue.popleft()
            self._start(item)
            if item is self._receiving:  # its body is still arriving, behind what was kept back
                self._resume_parsing()
            return
        self._resume_parsing()
        if self.task is not None or self._queue or self._parse_held:  # the next request came from what was kept
            return
        if self._in_head:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.server.header_timeout, self._head_deadline_passed)
        elif self._receiving is None:
            self._idle_timer = self.loop.call_later(self.server.idle_timeout, self._idle_timeout_passed)

    def _resume_parsing(self) -> None:
        """Parse what was kept back, up to the next complete request; read on if it did not hold one."""
        self._parse_held = False
        unparsed, self._unparsed = self._unparsed, b""
        self._parse(unparsed)
        if not self._parse_held:
            self.release_reading("pipelined")

    # -- deadlines and writing -----------------------------------------------------------------------

    def _head_deadline_passed(self) -> None:
        """A request head did not arrive in time: close without an answer, as Go's and nginx's servers do."""
        self._head_timer = None
        if self.idle or self.handshaking:
            self.server.observer("header_timeout", 0)
            self.close()

    def _idle_timeout_passed(self) -> None:
        self._idle_timer = None
        if self.idle:
            self.close()

    def pause_writing(self) -> None:
        """The client is not reading what it is sent: it has the send timeout to catch up."""
        self.writing_paused = True
        self._arm_send_deadline()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        self._wake_writer()
        if self._next_after_drain:
            self._next_after_drain = False
            self._next()

    def _arm_send_deadline(self) -> None:
        if self._send_timer is None:
            if self.transport is not None:
                self._unread_at_progress = self.transport.get_write_buffer_size()
            self._progress_at = self.loop.time()
            self._send_timer = self.loop.call_later(self.server.send_timeout, self._send_deadline_passed)

    def _send_deadline_passed(self) -> None:
        """A write stayed blocked for the whole send timeout: drop the connection and what it has not read."""
        self._send_timer = None
        self.server.observer("send_timeout", 0)
        self.evict()

    async def writable(self) -> None:
        """Wait while the client's transport is above its high-water mark (until it reads, or the connection ends)."""
        while self.writing_paused and self.transport is not None:
            self._drained = self.loop.create_future()
            await self._drained

    def _wake_writer(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
