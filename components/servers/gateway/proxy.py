"""The request path: authenticate, limit, forward (streaming as it arrives), and measure."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Iterable
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from yarl import URL

from slm_deploy.servers.gateway import errors
from slm_deploy.servers.gateway.config import GatewayConfig
from slm_deploy.servers.gateway.keys import KeyStore
from slm_deploy.servers.gateway.limits import KeyLimits
from slm_deploy.servers.gateway.metrics import NO_KEY, GatewayMetrics
from slm_deploy.servers.gateway.routes import OPENAI_GENERATION_ROUTES, route_label
from slm_deploy.servers.gateway.usage import JsonBodyTap, LineStreamTap, TokenUsage, request_usage_injection

access_log = logging.getLogger("slm_gateway.access")

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade"}
)
# Never forwarded upstream: the client's gateway key, and values aiohttp sets itself.
REQUEST_DROP = HOP_BY_HOP | {"host", "authorization", "content-length", "accept-encoding", "expect"}
SAFE_METHODS = frozenset({"GET", "HEAD"})
CLIENT_CLOSED = 499


def _is_traversal(path: str) -> bool:
    """Paths an upstream might normalise into a different route than the one checked here."""
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path:
        return True
    return any(segment in (".", "..") for segment in unquote(path).split("/"))


def _startswith_any(path: str, prefixes: Iterable[str]) -> bool:
    return any(path.startswith(prefix) for prefix in prefixes)


class Gateway:
    """One instance per process; holds the key store, limits, metrics and the upstream session."""

    def __init__(self, config: GatewayConfig, metrics: GatewayMetrics, keys: KeyStore, upstream_key: str = "") -> None:
        self.config = config
        self.metrics = metrics
        self.keys = keys
        self.limits = KeyLimits(
            config.rate_per_second, config.burst, config.max_concurrency, config.max_queue,
            config.queue_timeout_seconds,
        )
        self._upstream = config.upstream_url.rstrip("/")
        self._upstream_auth = f"Bearer {upstream_key}" if upstream_key else ""
        self._exempt = frozenset(config.exempt_paths)
        self._session: aiohttp.ClientSession | None = None

    async def start(self, _app: web.Application | None = None) -> None:
        """Open the pooled upstream session (inside the running loop)."""
        cfg = self.config
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=10),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=cfg.upstream_connect_timeout_seconds,
                sock_read=cfg.upstream_read_timeout_seconds or None,
            ),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )

    async def stop(self, _app: web.Application | None = None) -> None:
        """Close upstream connections."""
        if self._session is not None:
            await self._session.close()

    # -- request path -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request on the public port."""
        started = time.perf_counter()
        path = request.raw_path.split("?", 1)[0]
        method = request.method
        if path == self.config.health_path and method in SAFE_METHODS:
            return web.json_response({"status": "ok", "keys_loaded": len(self.keys.keys.entries)})
        route = route_label(path)
        if path in self._exempt and method in SAFE_METHODS:
            return await self._forward(request, route, NO_KEY, started)
        key_id, refusal = self._authenticate(request)
        if refusal is not None:
            return self._refuse(request, route, NO_KEY, refusal, "invalid_key" if request.headers.get("Authorization") else "missing_key", started)
        if _is_traversal(path) or not _startswith_any(path, self.config.forward_prefixes):
            return self._refuse(request, route, key_id, errors.not_found(), "route_not_found", started)
        if _startswith_any(path, self.config.deny_prefixes):
            return self._refuse(request, route, key_id, errors.forbidden_route(), "route_forbidden", started)
        retry_after = self.limits.retry_after(key_id)
        if retry_after:
            return self._refuse(request, route, key_id, errors.rate_limited(retry_after), "rate_limited", started)
        gate = self.limits.gate(key_id)
        if not gate.try_enter():
            if not gate.can_queue():
                return self._refuse(request, route, key_id, errors.too_many_concurrent(), "concurrency_limited", started)
            queued = self.metrics.queued.labels(key_id)
            queued.inc()
            try:
                admitted = await gate.wait()
            finally:
                queued.dec()
            if not admitted:
                return self._refuse(request, route, key_id, errors.too_many_concurrent(), "queue_timeout", started)
        try:
            return await self._forward(request, route, key_id, started)
        finally:
            gate.leave()

    def _authenticate(self, request: web.Request) -> tuple[str, web.Response | None]:
        """Find the key id for the bearer key, or the 401 to send."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            return NO_KEY, errors.missing_key()
        if scheme.lower() != "bearer" or not token:
            return NO_KEY, errors.invalid_key()
        key_id = self.keys.keys.identify(token)
        if key_id is None:
            return NO_KEY, errors.invalid_key()
        return key_id, None

    def _refuse(
        self, request: web.Request, route: str, key_id: str, response: web.Response, reason: str, started: float
    ) -> web.Response:
        self.metrics.rejections.labels(reason, key_id).inc()
        self._record(request, route, key_id, response.status, started, reason=reason)
        return response

    def _upstream_headers(self, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in REQUEST_DROP}
        headers["Accept-Encoding"] = "identity"
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers["X-Forwarded-Proto"] = request.scheme
        if self._upstream_auth:
            headers["Authorization"] = self._upstream_auth
        return headers

    async def _forward(self, request: web.Request, route: str, key_id: str, started: float) -> web.StreamResponse:
        """Send the request upstream and relay the answer chunk by chunk as it arrives."""
        assert self._session is not None, "Gateway.start() must run before requests"
        in_flight = self.metrics.in_flight.labels(key_id)
        in_flight.inc()
        try:
            return await self._relay(request, route, key_id, started)
        finally:
            in_flight.dec()

    async def _relay(self, request: web.Request, route: str, key_id: str, started: float) -> web.StreamResponse:
        method = request.method
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            response = errors.error_response(
                413, "Request body too large.", "invalid_request_error", "request_too_large"
            )
            return self._refuse(request, route, key_id, response, "request_too_large", started)
        drop_usage_event = False
        if self.config.inject_stream_usage and method == "POST" and route in OPENAI_GENERATION_ROUTES:
            rewritten = request_usage_injection(body)
            if rewritten is not None:
                body, drop_usage_event = rewritten, True
        url = URL(self._upstream + request.raw_path, encoded=True)
        try:
            upstream = await self._open_upstream(method, url, body if body or method not in SAFE_METHODS else None,
                                                 self._upstream_headers(request))
        except asyncio.TimeoutError:
            self.metrics.upstream_errors.labels("timeout").inc()
            return self._finish_error(request, route, key_id, errors.upstream_timeout(), started)
        except aiohttp.ClientError as exc:
            self.metrics.upstream_errors.labels("connect").inc()
            access_log.warning("upstream request failed: %s", type(exc).__name__)
            return self._finish_error(request, route, key_id, errors.upstream_unavailable(), started)

        content_type = upstream.headers.get("Content-Type", "").lower()
        streaming = "text/event-stream" in content_type or "ndjson" in content_type
        tap: LineStreamTap | JsonBodyTap | None
        if streaming:
            tap = LineStreamTap(drop_usage_event)
        elif "json" in content_type:
            tap = JsonBodyTap()
        else:
            tap = None
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            lowered = name.lower()
            if lowered in HOP_BY_HOP or (streaming and lowered == "content-length"):
                continue
            response.headers.add(name, value)
        if streaming:
            response.headers["X-Accel-Buffering"] = "no"
        status = upstream.status
        ttft: float | None = None
        complete = False
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                if ttft is None and streaming:
                    ttft = time.perf_counter() - started
                    self.metrics.ttft.labels(route, key_id).observe(ttft)
                out = tap.feed(chunk) if tap is not None else chunk
                if out:
                    await response.write(out)
            if tap is not None:
                out = tap.finish()
                if out:
                    await response.write(out)
            await response.write_eof()
            complete = True
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            status = CLIENT_CLOSED
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            reason = "timeout" if isinstance(exc, asyncio.TimeoutError) else "stream_broken"
            self.metrics.upstream_errors.labels(reason).inc()
            access_log.warning("upstream stream ended early: %s", type(exc).__name__)
            if request.transport is not None:
                request.transport.close()  # the client must see a truncated response, not a clean end
        finally:
            if complete:
                upstream.release()
            else:
                upstream.close()
        usage = tap.usage if tap is not None else None
        if usage is not None:
            self.metrics.input_tokens.labels(route, key_id).inc(usage.input_tokens)
            self.metrics.output_tokens.labels(route, key_id).inc(usage.output_tokens)
        self.metrics.duration.labels(route, key_id).observe(time.perf_counter() - started)
        self._record(request, route, key_id, status, started, ttft=ttft, usage=usage)
        return response

    async def _open_upstream(self, method: str, url: URL, body: bytes | None,
                             headers: dict[str, str]) -> aiohttp.ClientResponse:
        """Send the request; while no runtime accepts connections, hold it for up to upstream_wait_seconds.

        Only connection failures are retried: the runtime never saw the request, so sending it again is safe.
        """
        deadline = time.monotonic() + self.config.upstream_wait_seconds
        delay, held = 0.25, False
        try:
            while True:
                try:
                    return await self._session.request(  # type: ignore[union-attr]
                        method, url, data=body, headers=headers, allow_redirects=False)
                except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                    if time.monotonic() + delay > deadline:
                        raise
                    if not held:
                        held = True
                        self.metrics.upstream_waiting.inc()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        finally:
            if held:
                self.metrics.upstream_waiting.dec()

    def _finish_error(
        self, request: web.Request, route: str, key_id: str, response: web.Response, started: float
    ) -> web.Response:
        self.metrics.duration.labels(route, key_id).observe(time.perf_counter() - started)
        self._record(request, route, key_id, response.status, started)
        return response

    def _record(
        self, request: web.Request, route: str, key_id: str, status: int, started: float,
        reason: str = "", ttft: float | None = None, usage: TokenUsage | None = None,
    ) -> None:
        """Count the request and write one access-log line (ids and routes only, never keys)."""
        self.metrics.requests.labels(route, str(status), key_id).inc()
        if not self.config.access_log:
            return
        entry: dict[str, object] = {
            "method": request.method, "route": route, "status": status, "key_id": key_id,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if reason:
            entry["reason"] = reason
        if ttft is not None:
            entry["ttft_ms"] = round(ttft * 1000, 3)
        if usage is not None:
            entry["input_tokens"] = usage.input_tokens
            entry["output_tokens"] = usage.output_tokens
        access_log.info(json.dumps(entry, separators=(",", ":")))
