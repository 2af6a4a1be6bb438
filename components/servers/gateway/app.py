"""Wire the gateway together and serve it: the public port and a separate metrics port."""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import ssl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slm_deploy.servers.gateway import errors
from slm_deploy.servers.gateway.answers import Answer, Reply
from slm_deploy.servers.gateway.config import GatewayConfig, GatewayConfigError
from slm_deploy.servers.gateway.keys import MAX_KEY_FILE_BYTES, KeySet, KeyStore, parse_upstream_key
from slm_deploy.servers.gateway.logs import LOG_WRITE_ERRORS
from slm_deploy.servers.gateway.metrics import GatewayMetrics
from slm_deploy.servers.gateway.paths import InvalidTarget, canonical_target
from slm_deploy.servers.gateway.proxy import SAFE_METHODS, Gateway
from slm_deploy.servers.gateway.request import GatewayRequest
from slm_deploy.servers.gateway.server import GatewayServer

log = logging.getLogger("slm_gateway")

METRICS_MAX_CONNECTIONS = 16
# File descriptors besides client and upstream sockets: listeners, the key file, logs, the loop.
SPARE_FILE_DESCRIPTORS = 64


def read_upstream_key(path: str) -> str:
    """The key the gateway presents to a runtime that checks its own (one line of visible ASCII)."""
    if not path:
        return ""
    with open(path, "rb") as handle:
        return parse_upstream_key(handle.read(MAX_KEY_FILE_BYTES + 1))


def build_gateway(config: GatewayConfig) -> Gateway:
    """Load keys (failing fast on a bad key file) and assemble the request handler."""
    metrics = GatewayMetrics()
    LOG_WRITE_ERRORS.on_error = metrics.log_write_errors.inc

    def on_reload(result: str, keys: KeySet | None) -> None:
        metrics.key_reloads.labels(result).inc()
        if keys is not None:
            metrics.keys_loaded.set(len(keys.entries))

    keys = KeyStore(config.key_file, config.key_reload_interval_seconds, on_reload)
    return Gateway(config, metrics, keys, read_upstream_key(config.upstream_key_file))


def reserve_file_descriptors(max_connections: int) -> None:
    """Raise the soft open-file limit so the connection cap, not the kernel, is what refuses clients."""
    needed = 2 * max_connections + SPARE_FILE_DESCRIPTORS  # each proxied request also holds an upstream socket
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        if ceiling < needed:
            raise GatewayConfigError(
                f"gateway.max_connections: {max_connections} connections need {needed} open files, "
                f"the hard limit is {hard} (hint: lower max_connections or raise the container's nofile limit)"
            )


def public_server(gateway: Gateway) -> GatewayServer:
    """The server on the public port: every request goes through Gateway.handle."""
    cfg = gateway.config
    server = GatewayServer(
        gateway.handle, max_connections=cfg.max_connections, header_timeout=cfg.header_timeout_seconds,
        idle_timeout=cfg.idle_timeout_seconds, send_timeout=cfg.send_timeout_seconds,
        observer=gateway.on_connection_refused, tls=tls_context(cfg),
    )
    gateway.metrics.open_connections.set_function(lambda: len(server.connections))
    return server


def metrics_server(gateway: Gateway) -> GatewayServer:
    """The server on the metrics port: Prometheus exposition at the metrics path, nothing else."""
    cfg = gateway.config

    async def scrape(request: GatewayRequest) -> Answer:
        try:
            path = canonical_target(request.raw_path).path
        except InvalidTarget:
            return errors.error_response("invalid_request_target")
        if path != cfg.metrics_path:
            return errors.error_response("route_not_found")
        if request.method not in SAFE_METHODS:
            return errors.error_response("method_not_allowed", headers={"Allow": "GET, HEAD"})
        gateway.keys.keys  # noqa: B018 - pick up key file changes so keys_loaded is current
        return Reply(200, generate_latest(gateway.metrics.registry), CONTENT_TYPE_LATEST)

    return GatewayServer(
        scrape, max_connections=METRICS_MAX_CONNECTIONS, header_timeout=cfg.header_timeout_seconds,
        idle_timeout=cfg.idle_timeout_seconds, send_timeout=cfg.send_timeout_seconds,
        observer=gateway.on_connection_refused,
    )


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
    reserve_file_descriptors(config.max_connections + METRICS_MAX_CONNECTIONS)
    gateway = build_gateway(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await gateway.start()
    servers = [(public_server(gateway), config.shutdown_timeout_seconds), (metrics_server(gateway), 1.0)]
    listeners: list[asyncio.Server] = []
    try:
        listeners.append(await loop.create_server(
            servers[0][0], config.listen_host, config.listen_port, backlog=128))
        listeners.append(await loop.create_server(
            servers[1][0], config.metrics_host, config.metrics_port, backlog=128))
        log.info(
            "listening on %s:%d (metrics %s:%d%s), upstream %s, routes of %s, %d keys (ids: %s)",
            config.listen_host, config.listen_port, config.metrics_host, config.metrics_port,
            config.metrics_path, config.upstream_url, config.route_table, len(gateway.keys.keys.entries),
            ", ".join(gateway.keys.keys.key_ids),
        )
        await stop.wait()
        log.info("stopping: draining in-flight requests for up to %.0f s", config.shutdown_timeout_seconds)
    finally:
        for listener in listeners:
            listener.close()  # stop accepting; connections already open are drained below
        for server, timeout in servers:
            await server.shutdown(timeout)
        await gateway.stop()
