"""Wire the gateway together and serve it: the public port and a separate metrics port."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slm_deploy.servers.gateway.config import GatewayConfig
from slm_deploy.servers.gateway.keys import KeySet, KeyStore
from slm_deploy.servers.gateway.metrics import GatewayMetrics
from slm_deploy.servers.gateway.proxy import Gateway

log = logging.getLogger("slm_gateway")


def read_upstream_key(path: str) -> str:
    """The key the gateway presents to a runtime that checks its own (one line, trimmed)."""
    if not path:
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def build_gateway(config: GatewayConfig) -> Gateway:
    """Load keys (failing fast on a bad key file) and assemble the request handler."""
    metrics = GatewayMetrics()

    def on_reload(result: str, keys: KeySet | None) -> None:
        metrics.key_reloads.labels(result).inc()
        if keys is not None:
            metrics.keys_loaded.set(len(keys.entries))

    keys = KeyStore(config.key_file, config.key_reload_interval_seconds, on_reload)
    return Gateway(config, metrics, keys, read_upstream_key(config.upstream_key_file))


def public_app(gateway: Gateway) -> web.Application:
    """The application on the public port: every path goes through Gateway.handle."""
    app = web.Application(client_max_size=gateway.config.max_request_body_bytes, handler_args={"access_log": None})
    app.router.add_route("*", "/{tail:.*}", gateway.handle)
    app.on_startup.append(gateway.start)
    app.on_cleanup.append(gateway.stop)
    return app


def metrics_app(gateway: Gateway) -> web.Application:
    """The application on the metrics port: Prometheus exposition only."""

    async def scrape(_request: web.Request) -> web.Response:
        gateway.keys.keys  # noqa: B018 - pick up key file changes so keys_loaded is current
        response = web.Response(body=generate_latest(gateway.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get(gateway.config.metrics_path, scrape)
    return app


def tls_context(config: GatewayConfig) -> ssl.SSLContext | None:
    """Server TLS from mounted certificate files, TLS 1.2 or newer."""
    if not config.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    return context


async def serve(config: GatewayConfig, stop: asyncio.Event | None = None) -> None:
    """Run both listeners until SIGTERM/SIGINT (or `stop`), then drain in-flight requests."""
    gateway = build_gateway(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runners = [
        web.AppRunner(public_app(gateway), access_log=None, shutdown_timeout=config.shutdown_timeout_seconds),
        web.AppRunner(metrics_app(gateway), access_log=None, shutdown_timeout=1.0),
    ]
    for runner in runners:
        await runner.setup()
    try:
        await web.TCPSite(runners[0], config.listen_host, config.listen_port, ssl_context=tls_context(config)).start()
        await web.TCPSite(runners[1], config.metrics_host, config.metrics_port).start()
        log.info(
            "listening on %s:%d (metrics %s:%d%s), upstream %s, %d keys (ids: %s)",
            config.listen_host, config.listen_port, config.metrics_host, config.metrics_port,
            config.metrics_path, config.upstream_url, len(gateway.keys.keys.entries),
            ", ".join(gateway.keys.keys.key_ids),
        )
        await stop.wait()
        log.info("stopping: draining in-flight requests for up to %.0f s", config.shutdown_timeout_seconds)
    finally:
        for runner in runners:
            await runner.cleanup()
