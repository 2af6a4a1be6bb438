"""The request path: canonical target, authenticate, route, limit, forward (streaming as it arrives), measure."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from slm_deploy.servers.gateway import errors
from slm_deploy.servers.gateway.answers import Answer, Relayed, Reply
from slm_deploy.servers.gateway.config import GatewayConfig
from slm_deploy.servers.gateway.headers import client_response_headers, header_tokens, upstream_request_headers
from slm_deploy.servers.gateway.keys import KeyStore
from slm_deploy.servers.gateway.limits import BucketTable, ByteBudget, ConcurrencyGate, KeyLimits
from slm_deploy.servers.gateway.logs import ACCESS_LOG, ACCESS_LOGGER
from slm_deploy.servers.gateway.metrics import NO_KEY, GatewayMetrics
from slm_deploy.servers.gateway.relay import ClientStream
from slm_deploy.servers.gateway.paths import InvalidTarget, Target, canonical_target
from slm_deploy.servers.gateway.request import GatewayRequest, MalformedBody
from slm_deploy.servers.gateway.request_fields import FieldRefusal, restrict_request_fields
from slm_deploy.servers.gateway.routes import OPENAI_GENERATION_ROUTES, TABLES, UNMATCHED_LABEL
from slm_deploy.servers.gateway.upstream import (
    UpstreamConnectError, UpstreamError, UpstreamPool, UpstreamResponse,
)
from slm_deploy.servers.gateway.usage import (
    JsonBodyTap, LineStreamTap, TokenUsage, UnreadableRequest, request_usage_injection,
)

access_log = logging.getLogger(ACCESS_LOGGER)

SAFE_METHODS = frozenset({"GET", "HEAD"})
CLIENT_CLOSED = 499
# A protocol switch and a proxy-auth challenge describe the hop to the runtime, not the client's request.
NOT_RELAYED = frozenset({101, 407})
# Streamed answers tell buffering proxies in front of the gateway to pass each chunk on.
STREAM_HEADERS = (("X-Accel-Buffering", "no"),)
# While a runtime wakes, connection attempts back off from the first delay to the longest.
WAIT_FIRST_RETRY_SECONDS = 0.25
WAIT_MAX_RETRY_SECONDS = 2.0


@dataclass
class Exchange:
    """What is known about one request so far, for its metrics and its access-log line."""

    request: GatewayRequest
    started: float
    route: str = UNMATCHED_LABEL
    key_id: str = NO_KEY
    # When the whole request had been received and went to the runtime: time to first token counts from here.
    sent: float = 0.0
    # The bytes of the in-flight body budget this request holds: its body's bytes as they arrive (sized or chunked).
    reserved: int = 0


class Refusal(Exception):
    """The gateway answers the request itself with this error code."""

    def __init__(self, code: str, reason: str = "", headers: dict[str, str] | None = None, close: bool = False):
        super().__init__(code)
        self.code = code
        self.reason = reason or code
        self.headers = headers
        self.close = close


def _body_precheck(request: GatewayRequest, limit: int) -> None:
    """Refuse, before reading or inviting a body, what the gateway will not accept anyway."""
    expectations = header_tokens(request.headers, "Expect")
    if expectations and (expectations != ["100-continue"] or request.version < (1, 1)):
        raise Refusal("expectation_failed", close=True)
    if any(coding != "identity" for coding in header_tokens(request.headers, "Content-Encoding")):
        raise Refusal("unsupported_content_encoding", close=True)
    if (request.content_length or 0) > limit:
        raise Refusal("request_too_large", close=True)


class Gateway:
    """One instance per process; holds the key store, limits, metrics and the upstream session."""

    def __init__(self, config: GatewayConfig, metrics: GatewayMetrics, keys: KeyStore, upstream_key: str = "") -> None:
        self.config = config
        self.metrics = metrics
        self.keys = keys
        self.table = TABLES[config.route_table]
        self.limits = KeyLimits(
            config.rate_per_second, config.burst, config.max_concurrency, config.max_queue,
            config.queue_timeout_seconds,
        )
        self.peers = BucketTable(config.unauthenticated_rate_per_second, config.unauthenticated_burst)
        self.body_budget = ByteBudget(config.max_in_flight_body_bytes)
        metrics.body_bytes_reserved.set_function(lambda: self.body_budget.reserved)
        self.usage_copy_budget = ByteBudget(config.max_usage_copy_bytes)
        metrics.usage_copy_bytes_reserved.set_function(lambda: self.usage_copy_budget.reserved)
        self._upstream = UpstreamPool(config.upstream_url)
        self._relays: set[tuple[ClientStream, UpstreamResponse]] = set()
        metrics.stream_buffered_bytes.set_function(self._relay_buffered_bytes)
        self._upstream_auth = f"Bearer {upstream_key}" if upstream_key else ""
        self._exempt = frozenset(config.exempt_paths)
        self._health = json.dumps({"status": "ok"}).encode()

    def _relay_buffered_bytes(self) -> int:
        """What the answers being relayed hold in the gateway now (computed when metrics are scraped)."""
        return sum(client.buffered + upstream.buffered for client, upstream in self._relays)

    async def start(self) -> None:
        """Nothing to open ahead: upstream connections are made on demand and pooled."""

    async def stop(self) -> None:
        """Close pooled upstream connections."""
        self._upstream.close()

    # -- request path -------------------------------------------------------------------------

    async def handle(self, request: GatewayRequest) -> Answer:
        """Entry point for every request on the public port; a client that leaves cancels it at any stage."""
        exchange = Exchange(request, time.perf_counter())
        try:
            return await self._handle(exchange)
        except Refusal as refusal:
            return self._refuse(exchange, refusal)
        except asyncio.CancelledError:
            self._record(exchange, CLIENT_CLOSED)
            raise

    async def _handle(self, exchange: Exchange) -> Answer:
        request = exchange.request
        try:
            target = canonical_target(request.raw_path)
        except InvalidTarget:
            raise Refusal("invalid_request_target") from None
        method = request.method
        if target.path == self.config.health_path and method in SAFE_METHODS:
            return Reply(200, self._health)
        route = self.table.match(target.path)
        if route is not None:
            exchange.route = route.pattern
        if target.path in self._exempt and method in SAFE_METHODS:
            self._charge_unauthenticated(request)
            if request.body_exists:  # nothing without a key carries a body to the runtime
                raise Refusal("request_too_large", close=True)
            return await self._forward(exchange, target)
        code = self._authenticate(request, exchange)
        if code is not None:  # the connection closes: requests pipelined behind a refused one are never parsed
            self._charge_unauthenticated(request, close=True)
            raise Refusal(code, "missing_key" if code == "missing_api_key" else "invalid_key", close=True)
        if route is None:
            raise Refusal("route_forbidden" if self.table.is_management(target.path) else "route_not_found")
        if method not in route.methods:
            raise Refusal("method_not_allowed", headers={"Allow": ", ".join(sorted(route.methods))})
        _body_precheck(request, self.config.max_request_body_bytes)
        gate = self.limits.gate(exchange.key_id)
        if not gate.try_enter():
            await self._queue(exchange, gate)
        try:
            retry = self.limits.retry_after(exchange.key_id)
            if retry:
                raise Refusal("rate_limit_exceeded", "rate_limited", errors.retry_after(retry))
            with self._body_reservation(exchange):
                return await self._forward(exchange, target)
        finally:
            gate.leave()

    @contextmanager
    def _body_reservation(self, exchange: Exchange) -> Iterator[None]:
        """Release the request's share of the in-flight body budget (reserved as its body arrives) at its end."""
        try:
            yield
        finally:
            self.body_budget.release(exchange.reserved)
            exchange.reserved = 0

    def _reserve_body(self, exchange: Exchange, size: int) -> None:
        """Grow the request's reservation to `size` body bytes, or refuse: a stalled upload holds only what it sent."""
        more = size - exchange.reserved
        if more <= 0:
            return
        if not self.body_budget.try_reserve(more):
            raise Refusal("body_budget_exceeded", "body_budget", {"Retry-After": "1"}, close=True)
        exchange.reserved = size

    async def _queue(self, exchange: Exchange, gate: ConcurrencyGate) -> None:
        """Wait for a concurrency slot, or refuse without spending a rate token."""
        if not gate.can_queue():
            raise Refusal("concurrency_limit_exceeded", "concurrency_limited", {"Retry-After": "1"})
        queued = self.metrics.queued.labels(exchange.key_id)
        queued.inc()
        try:
            admitted = await gate.wait()
        finally:
            queued.dec()
        if not admitted:
            raise Refusal("concurrency_limit_exceeded", "queue_timeout", {"Retry-After": "1"})

    def _authenticate(self, request: GatewayRequest, exchange: Exchange) -> str | None:
        """Set the key id for the bearer key, or return the 401 code."""
        header = request.headers.get("Authorization", "")
        if not header:
            return "missing_api_key"
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "invalid_api_key"
        key_id = self.keys.keys.identify(token)
        if key_id is None:
            return "invalid_api_key"
        exchange.key_id = key_id
        return None

    def _charge_unauthenticated(self, request: GatewayRequest, close: bool = False) -> None:
        """Requests without a valid key share a rate per client address."""
        retry = self.peers.retry_after(request.remote or "")
        if retry:
            raise Refusal("unauthenticated_rate_limit_exceeded", "unauthenticated_rate_limited",
                          errors.retry_after(retry), close=close)

    def _refuse(self, exchange: Exchange, refusal: Refusal) -> Reply:
        response = errors.error_response(refusal.code, headers=refusal.headers, close=refusal.close)
        self.metrics.rejections.labels(refusal.reason, exchange.key_id).inc()
        self._record(exchange, response.status, reason=refusal.reason)
        return response

    async def _read_body(self, exchange: Exchange) -> bytes:
        """The whole request body, within the size limit, the body budget and the body deadline."""
        request = exchange.request
        limit = self.config.max_request_body_bytes
        content = request.body
        if request.headers.get("Expect") is not None:
            request.send_continue()
        elif content.complete:  # it arrived with the head: nothing to wait for
            body = content.read_nowait()
            if len(body) > limit:
                raise Refusal("request_too_large", close=True)
            self._reserve_body(exchange, len(body))
            return body
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.config.body_timeout_seconds):
                while chunk := await content.read_chunk():
                    size += len(chunk)
                    if size > limit:
                        raise Refusal("request_too_large", close=True)
                    self._reserve_body(exchange, size)
                    chunks.append(chunk)
        except TimeoutError:
            raise Refusal("request_timeout", close=True) from None
        except MalformedBody:
            raise Refusal("malformed_request", close=True) from None
        return b"".join(chunks)

    async def _forward(self, exchange: Exchange, target: Target) -> Answer:
        """Send the request upstream and relay the answer chunk by chunk as it arrives."""
        in_flight = self.metrics.in_flight_for(exchange.key_id)
        in_flight.inc()
        try:
            return await self._relay(exchange, target)
        finally:
            in_flight.dec()

    async def _relay(self, exchange: Exchange, target: Target) -> Answer:
        request, route = exchange.request, exchange.route
        method = request.method
        body = await self._read_body(exchange)
        drop_usage_event = False
        inject = self.config.inject_stream_usage and method == "POST" and route in OPENAI_GENERATION_ROUTES
        if method == "POST" and (self.table.removed_fields or self.table.refused_fields):
            try:
                body, drop_usage_event = restrict_request_fields(
                    body, self.table.removed_fields, self.table.refused_fields, inject_usage=inject)
            except FieldRefusal as refusal:
                raise Refusal(refusal.code) from None
        elif inject:
            try:
                rewritten = request_usage_injection(body, self.table.go_decoder)
            except UnreadableRequest:
                raise Refusal("invalid_json_object") from None
            if rewritten is not None:
                body, drop_usage_event = rewritten, True
        headers = upstream_request_headers(request.headers, request.remote or "", request.scheme, self._upstream_auth)
        exchange.sent = time.perf_counter()
        try:
            upstream = await self._open_upstream(
                exchange, method, target.forwarded, body if body or method not in SAFE_METHODS else None, headers,
            )
        except TimeoutError:
            self.metrics.upstream_errors.labels("timeout").inc()
            return self._finish(exchange, errors.error_response("upstream_timeout"))
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(exc.reason).inc()
            access_log.warning("upstream request failed: %s", type(exc).__name__)
            return self._finish(exchange, errors.error_response(exc.code))
        if upstream.status >= 500 or 300 <= upstream.status < 400 or upstream.status in NOT_RELAYED:
            # Internal error bodies and redirects to internal hosts stay inside; the status (5xx) does not.
            upstream.close()
            retry = errors.relayed_retry_after(upstream.headers.get("Retry-After"))
            status = upstream.status if upstream.status >= 500 else 502
            return self._finish(exchange, errors.error_response("upstream_error", status=status, headers=retry))
        return await self._stream(exchange, upstream, drop_usage_event)

    async def _stream(self, exchange: Exchange, upstream: UpstreamResponse, drop_usage_event: bool) -> Relayed:
        request, route, key_id, started = exchange.request, exchange.route, exchange.key_id, exchange.started
        content_type = upstream.headers.get("Content-Type", "").lower()
        streaming = "text/event-stream" in content_type or "ndjson" in content_type
        tap: LineStreamTap | JsonBodyTap | None
        if streaming:
            tap = LineStreamTap(drop_usage_event)
        elif "json" in content_type:
            tap = JsonBodyTap(self.usage_copy_budget)
        else:
            tap = None
        headers = client_response_headers(upstream.headers, streaming)
        client = ClientStream(request, upstream.status, [*headers, *STREAM_HEADERS] if streaming else headers)
        status = upstream.status
        series = self.metrics.series(route, key_id)
        ttft: float | None = None
        complete = False
        relay = (client, upstream)
        self._relays.add(relay)
        try:
            client.start()
            while chunk := await upstream.read():
                if ttft is None and streaming:
                    ttft = time.perf_counter() - exchange.sent
                    series.ttft.observe(ttft)
                out = tap.feed(chunk) if tap is not None else chunk
                if out:
                    await client.write(out)
            if tap is not None:
                out = tap.finish()
                if out:
                    await client.write(out)
            client.end()
            complete = True
        except ConnectionResetError:
            status = CLIENT_CLOSED
        except asyncio.CancelledError:  # the client's connection was lost while the relay waited
            status = CLIENT_CLOSED
            raise
        except (UpstreamError, TimeoutError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "stream_broken"
            self.metrics.upstream_errors.labels(reason).inc()
            access_log.warning("upstream stream ended early: %s", type(exc).__name__)
            if request.transport is not None:
                request.transport.abort()  # the client must see a truncated response, not a clean end
        finally:
            self._relays.discard(relay)
            if complete:
                upstream.release()
            else:
                upstream.close()
            if isinstance(tap, JsonBodyTap):
                self._settle_usage_copy(tap, key_id)
            if status == CLIENT_CLOSED:
                self._count_unread_when_cut(exchange, tap)
        usage = tap.usage if tap is not None else None
        if usage is not None:
            series.input_tokens.inc(usage.input_tokens)
            series.output_tokens.inc(usage.output_tokens)
        series.duration.observe(time.perf_counter() - started)
        self._record(exchange, status, ttft=ttft, usage=usage)
        return client.response

    def _count_unread_when_cut(self, exchange: Exchange, tap: LineStreamTap | JsonBodyTap | None) -> None:
        """A client that left before the answer's token counts arrived: the tokens the runtime spent stay unknown."""
        if exchange.request.method != "POST" or tap is None or tap.usage is not None:
            return
        if isinstance(tap, JsonBodyTap) and tap.unread_reason:
            return  # already counted under the reason its copy was dropped
        self.metrics.usage_unread.labels("client_closed", exchange.key_id).inc()

    def _settle_usage_copy(self, tap: JsonBodyTap, key_id: str) -> None:
        """Free an answer's usage copy, and count the answer whose tokens stay unknown because it was not kept."""
        tap.release()
        if tap.unread_reason:
            self.metrics.usage_unread.labels(tap.unread_reason, key_id).inc()

    async def _open_upstream(
        self, exchange: Exchange, method: str, target: str, body: bytes | None, headers: list[tuple[str, str]]
    ) -> UpstreamResponse:
        """Send the request; while no runtime accepts connections, hold a keyed one for up to upstream_wait_seconds.

        A held request is exported as slm_gateway_upstream_waiting_requests, which wakes a runtime scaled to
        zero. Only connection failures are retried (the runtime never saw the request, so sending it again is
        safe), no attempt's connect deadline outlives the wait, and a client that leaves cancels the wait.
        Requests without a key (exempt health paths) never wait: they must not wake a runtime.
        """
        config = self.config
        read_timeout = config.upstream_read_timeout_seconds or None
        budget = config.upstream_wait_seconds if exchange.key_id != NO_KEY else 0.0
        if not budget:
            return await self._upstream.request(
                method, target, headers, body, config.upstream_connect_timeout_seconds, read_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        delay, held = WAIT_FIRST_RETRY_SECONDS, False
        try:
            while True:
                connect = min(self.config.upstream_connect_timeout_seconds, max(deadline - loop.time(), 0.001))
                try:
                    return await self._upstream.request(method, target, headers, body, connect, read_timeout)
                except UpstreamConnectError:
                    if loop.time() + delay > deadline:
                        raise
                    if not held:
                        held = True
                        self.metrics.upstream_waiting.inc()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, WAIT_MAX_RETRY_SECONDS)
        finally:
            if held:
                self.metrics.upstream_waiting.dec()

    def on_connection_refused(self, reason: str, status: int) -> None:
        """Count what the server refused below the request handler (malformed requests, timeouts, the cap)."""
        self.metrics.rejections.labels(reason, NO_KEY).inc()
        if status:
            self.metrics.answered(UNMATCHED_LABEL, status, NO_KEY).inc()

    def _finish(self, exchange: Exchange, response: Reply) -> Reply:
        self.metrics.series(exchange.route, exchange.key_id).duration.observe(time.perf_counter() - exchange.started)
        self._record(exchange, response.status)
        return response

    def _record(
        self, exchange: Exchange, status: int, reason: str = "", ttft: float | None = None,
        usage: TokenUsage | None = None,
    ) -> None:
        """Count the request and write one access-log line (ids and routes only, never keys)."""
        self.metrics.answered(exchange.route, status, exchange.key_id).inc()
        if not self.config.access_log:
            return
        entry: dict[str, object] = {
            "method": exchange.request.method, "route": exchange.route, "status": status, "key_id": exchange.key_id,
            "duration_ms": round((time.perf_counter() - exchange.started) * 1000, 3),
        }
        if reason:
            entry["reason"] = reason
        if ttft is not None:
            entry["ttft_ms"] = round(ttft * 1000, 3)
        if usage is not None:
            entry["input_tokens"] = usage.input_tokens
            entry["output_tokens"] = usage.output_tokens
        ACCESS_LOG.write(entry)
