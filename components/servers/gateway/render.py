"""What a deployment bundle needs to run the gateway: its config file, command and image context."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.servers.gateway.config import GatewayConfig, config_to_toml

GATEWAY_CONFIG_DIR = "/etc/slm-gateway"
GATEWAY_CONFIG_FILE = "gateway.toml"
GATEWAY_HEALTH_PATH = "/healthz"
GATEWAY_METRICS_PORT = 9464
GATEWAY_METRICS_PATH = "/metrics"

# Exact pins for the gateway image: httptools (llhttp, for requests and the runtime's responses), multidict,
# prometheus_client and uvloop (none of them needs another package).
GATEWAY_REQUIREMENTS = (
    "httptools==0.9.0",
    "multidict==7.2.1",
    "prometheus_client==0.26.0",
    "uvloop==0.23.0",
)

# Memory the gateway needs besides request bodies: the interpreter, connection buffers and one
# usage-injection JSON parse (bounded by usage.MAX_INJECTION_BODY_BYTES, up to ~20x its size).
BASELINE_MEMORY_BYTES = 160 * 2**20
# Each reserved body byte may exist twice: the body itself and its copy in the upstream socket's send buffer.
COPIES_PER_BODY_BYTE = 2
# The in-flight budget holds this many largest bodies, and never less than the floor.
BUDGET_LARGEST_BODIES = 2
BUDGET_FLOOR_BYTES = 32 * 2**20

_PACKAGE_DIR = Path(__file__).resolve().parent
_ERRORS_MODULE = _PACKAGE_DIR.parent.parent / "errors.py"


def render_gateway_config(
    upstream: str,
    route_table: str,
    listen_port: int,
    key_file: str,
    rate_per_second: float,
    burst: int,
    max_concurrency: int,
    *,
    listen_host: str = "0.0.0.0",
    max_queue: int = 0,
    queue_timeout_seconds: float = 30.0,
    exempt_paths: tuple[str, ...] = (),
    metrics_host: str = "127.0.0.1",
    metrics_port: int = GATEWAY_METRICS_PORT,
    inject_stream_usage: bool = True,
    upstream_key_file: str = "",
    tls_cert_file: str = "",
    tls_key_file: str = "",
    upstream_read_timeout_seconds: float = 600.0,
    upstream_wait_seconds: float = 0.0,
    shutdown_timeout_seconds: float = 30.0,
    max_request_body_bytes: int = GatewayConfig.max_request_body_bytes,
    max_in_flight_body_bytes: int = GatewayConfig.max_in_flight_body_bytes,
) -> dict[str, str]:
    """The gateway's config files ({relative name: text}); validated exactly as the gateway will."""
    config = GatewayConfig(
        upstream_url=upstream,
        route_table=route_table,
        listen_host=listen_host,
        listen_port=listen_port,
        key_file=key_file,
        rate_per_second=rate_per_second,
        burst=burst,
        max_concurrency=max_concurrency,
        max_queue=max_queue,
        queue_timeout_seconds=queue_timeout_seconds,
        exempt_paths=tuple(exempt_paths),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        metrics_path=GATEWAY_METRICS_PATH,
        health_path=GATEWAY_HEALTH_PATH,
        inject_stream_usage=inject_stream_usage,
        upstream_key_file=upstream_key_file,
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        upstream_read_timeout_seconds=upstream_read_timeout_seconds,
        upstream_wait_seconds=upstream_wait_seconds,
        shutdown_timeout_seconds=shutdown_timeout_seconds,
        max_request_body_bytes=max_request_body_bytes,
        max_in_flight_body_bytes=max_in_flight_body_bytes,
    )
    return {GATEWAY_CONFIG_FILE: config_to_toml(config)}


def in_flight_body_budget(max_request_body_bytes: int) -> int:
    """The gateway-wide request-body budget rendered for a per-request body limit."""
    return max(BUDGET_FLOOR_BYTES, BUDGET_LARGEST_BODIES * max_request_body_bytes)


def gateway_memory_bytes(
    max_in_flight_body_bytes: int, max_usage_copy_bytes: int = GatewayConfig.max_usage_copy_bytes,
) -> int:
    """The container memory limit that holds a full body budget and a full usage-copy budget on top of the baseline."""
    return BASELINE_MEMORY_BYTES + COPIES_PER_BODY_BYTE * max_in_flight_body_bytes + max_usage_copy_bytes


def gateway_command(config_dir: str = GATEWAY_CONFIG_DIR) -> list[str]:
    """The container command, given where the rendered config files are mounted."""
    return ["python", "-m", "slm_deploy.servers.gateway", "--config", f"{config_dir}/{GATEWAY_CONFIG_FILE}"]


def gateway_healthcheck_command(listen_port: int, scheme: str = "http") -> list[str]:
    """A health probe for Compose/Docker that needs nothing but the image's Python."""
    return [
        "python", "-m", "slm_deploy.servers.gateway.healthcheck",
        f"{scheme}://127.0.0.1:{listen_port}{GATEWAY_HEALTH_PATH}",
    ]


def gateway_sources() -> dict[str, str]:
    """Pinned requirements and the gateway's own sources, nothing else of slm-deploy: the image context."""
    files = {
        "requirements.txt": "\n".join(GATEWAY_REQUIREMENTS) + "\n",
        "slm_deploy/__init__.py": '"""slm-deploy (gateway image subset)."""\n',
        "slm_deploy/errors.py": _ERRORS_MODULE.read_text(encoding="utf-8"),
        "slm_deploy/servers/__init__.py": '"""Servers slm-deploy ships."""\n',
    }
    for source in sorted(_PACKAGE_DIR.glob("*.py")):
        files[f"slm_deploy/servers/gateway/{source.name}"] = source.read_text(encoding="utf-8")
    return files
