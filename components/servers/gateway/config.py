"""The gateway's settings: one frozen object, read from a TOML file and validated once."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slm_deploy.errors import SlmDeployError
from slm_deploy.servers.gateway.routes import TABLES

# Exact paths that may skip the key check: liveness/readiness endpoints of the runtimes, never
# an inference or model-management route.
HEALTH_STYLE_PATHS = frozenset(
    {
        "/",
        "/health",
        "/healthz",
        "/ready",
        "/readyz",
        "/livez",
        "/ping",
        "/api/version",
        "/v1/health/live",
        "/v1/health/ready",
    }
)

class GatewayConfigError(SlmDeployError):
    """The gateway configuration is malformed; names the setting, never a secret's value."""


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs to run; file paths only, never key material."""

    upstream_url: str
    key_file: str
    route_table: str
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    health_path: str = "/healthz"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    max_connections: int = 1024
    header_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 30.0
    body_timeout_seconds: float = 60.0
    send_timeout_seconds: float = 60.0
    upstream_connect_timeout_seconds: float = 10.0
    upstream_read_timeout_seconds: float = 600.0
    upstream_key_file: str = ""
    upstream_wait_seconds: float = 0.0
    """How long a request may wait for a runtime that accepts no connections yet (a runtime scaled to zero)."""
    key_reload_interval_seconds: float = 1.0
    exempt_paths: tuple[str, ...] = ()
    unauthenticated_rate_per_second: float = 2.0
    unauthenticated_burst: int = 20
    rate_per_second: float = 0.0
    burst: int = 0
    max_concurrency: int = 0
    max_queue: int = 0
    queue_timeout_seconds: float = 30.0
    max_request_body_bytes: int = 32 * 1024 * 1024
    max_in_flight_body_bytes: int = 64 * 1024 * 1024
    max_usage_copy_bytes: int = 32 * 1024 * 1024
    """Copies of non-streamed answers kept to read their usage, all requests together."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    metrics_path: str = "/metrics"
    inject_stream_usage: bool = True
    access_log: bool = True
    shutdown_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if _FIELD_TYPES[f.name] == "float" and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        validate(self)


# TOML section -> (TOML key, GatewayConfig field) in the order the file is written.
SECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "listen": (
        ("host", "listen_host"),
        ("port", "listen_port"),
        ("health_path", "health_path"),
        ("tls_cert_file", "tls_cert_file"),
        ("tls_key_file", "tls_key_file"),
        ("shutdown_timeout_seconds", "shutdown_timeout_seconds"),
        ("access_log", "access_log"),
        ("max_connections", "max_connections"),
        ("header_timeout_seconds", "header_timeout_seconds"),
        ("idle_timeout_seconds", "idle_timeout_seconds"),
        ("body_timeout_seconds", "body_timeout_seconds"),
        ("send_timeout_seconds", "send_timeout_seconds"),
    ),
    "upstream": (
        ("url", "upstream_url"),
        ("connect_timeout_seconds", "upstream_connect_timeout_seconds"),
        ("read_timeout_seconds", "upstream_read_timeout_seconds"),
        ("key_file", "upstream_key_file"),
        ("wait_seconds", "upstream_wait_seconds"),
    ),
    "auth": (
        ("key_file", "key_file"),
        ("reload_interval_seconds", "key_reload_interval_seconds"),
        ("exempt_paths", "exempt_paths"),
        ("unauthenticated_rate_per_second", "unauthenticated_rate_per_second"),
        ("unauthenticated_burst", "unauthenticated_burst"),
    ),
    "routes": (("table", "route_table"),),
    "limits": (
        ("rate_per_second", "rate_per_second"),
        ("burst", "burst"),
        ("max_concurrency", "max_concurrency"),
        ("max_queue", "max_queue"),
        ("queue_timeout_seconds", "queue_timeout_seconds"),
        ("max_request_body_bytes", "max_request_body_bytes"),
        ("max_in_flight_body_bytes", "max_in_flight_body_bytes"),
        ("max_usage_copy_bytes", "max_usage_copy_bytes"),
    ),
    "metrics": (
        ("host", "metrics_host"),
        ("port", "metrics_port"),
        ("path", "metrics_path"),
        ("inject_stream_usage", "inject_stream_usage"),
    ),
}

_FIELD_TYPES = {f.name: f.type for f in fields(GatewayConfig)}


def _fail(setting: str, message: str, hint: str = "") -> GatewayConfigError:
    """Build an error that names the setting and what is allowed."""
    text = f"gateway.{setting}: {message}"
    return GatewayConfigError(f"{text} (hint: {hint})" if hint else text)


def _check_port(setting: str, value: int) -> None:
    if not 1 <= value <= 65535:
        raise _fail(setting, f"port {value} is outside 1-65535")


def _check_path(setting: str, value: str) -> None:
    if not value.startswith("/") or any(c in value for c in "?# \t\r\n"):
        raise _fail(setting, f"{value!r} is not an absolute URL path", "use e.g. /healthz")


def validate(config: GatewayConfig) -> None:
    """Reject settings the gateway cannot run with, before anything listens."""
    for f in fields(config):
        value = getattr(config, f.name)
        expected = _FIELD_TYPES[f.name]
        if expected == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise _fail(f.name, f"expected an integer, got {type(value).__name__}")
        if expected == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(f.name, f"expected a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise _fail(f.name, "must be a finite number >= 0")
        if expected == "bool" and not isinstance(value, bool):
            raise _fail(f.name, f"expected true or false, got {type(value).__name__}")
        if expected == "str" and not isinstance(value, str):
            raise _fail(f.name, f"expected a string, got {type(value).__name__}")
        if expected == "tuple[str, ...]" and not (
            isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        ):
            raise _fail(f.name, "expected a list of strings")
    url = urlsplit(config.upstream_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise _fail("upstream_url", "must be an http:// or https:// URL with a host", "e.g. http://runtime:8000")
    if url.query or url.fragment or url.username or url.password:
        raise _fail("upstream_url", "must not carry credentials, a query or a fragment")
    if not config.key_file:
        raise _fail("key_file", "is required", "mount the key file from a secret")
    _check_port("listen_port", config.listen_port)
    _check_port("metrics_port", config.metrics_port)
    if config.metrics_port == config.listen_port:
        raise _fail("metrics_port", "must differ from listen_port so metrics stay off the public port")
    _check_path("health_path", config.health_path)
    _check_path("metrics_path", config.metrics_path)
    if bool(config.tls_cert_file) != bool(config.tls_key_file):
        raise _fail("tls_cert_file", "TLS needs both tls_cert_file and tls_key_file")
    table = TABLES.get(config.route_table)
    if table is None:
        raise _fail("route_table", "is not a known runtime", "one of " + ", ".join(sorted(TABLES)))
    for path in config.exempt_paths:
        route = table.match(path)
        if path not in HEALTH_STYLE_PATHS or route is None or "GET" not in route.methods:
            raise _fail(
                "exempt_paths",
                f"{path!r} is not a health-style path that the {table.name} runtime serves",
                "only " + ", ".join(sorted(HEALTH_STYLE_PATHS)) + " may skip the key check",
            )
    for setting in ("header_timeout_seconds", "idle_timeout_seconds", "body_timeout_seconds", "send_timeout_seconds"):
        if getattr(config, setting) <= 0:
            raise _fail(setting, "must be > 0: a client that stops sending or reading must not hold a connection")
    if not 1 <= config.max_connections <= 65535:
        raise _fail("max_connections", "must be between 1 and 65535")
    for rate, burst in (("rate_per_second", "burst"), ("unauthenticated_rate_per_second", "unauthenticated_burst")):
        if getattr(config, rate) > 0 and getattr(config, burst) < 1:
            raise _fail(burst, f"must be >= 1 when {rate} is set")
    for setting in ("burst", "unauthenticated_burst", "max_concurrency", "max_queue"):
        if getattr(config, setting) < 0:
            raise _fail(setting, "must be >= 0 (0 means unlimited or none)")
    if config.max_queue and not config.max_concurrency:
        raise _fail("max_queue", "a queue needs max_concurrency > 0")
    if config.max_request_body_bytes < 1024:
        raise _fail("max_request_body_bytes", "must be at least 1024")
    if config.max_in_flight_body_bytes < config.max_request_body_bytes:
        raise _fail(
            "max_in_flight_body_bytes", "must be at least max_request_body_bytes, or no largest body could ever pass",
        )
    if config.max_usage_copy_bytes < 0:
        raise _fail("max_usage_copy_bytes", "must be >= 0 (0 reads no usage from non-streamed answers)")


def config_from_mapping(data: dict[str, Any]) -> GatewayConfig:
    """Turn the parsed TOML tables into a validated GatewayConfig."""
    values: dict[str, Any] = {}
    for section, keys in SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise _fail(section, "must be a table")
        known = {toml_key for toml_key, _ in keys}
        unknown = sorted(set(table) - known)
        if unknown:
            raise _fail(f"{section}.{unknown[0]}", "unknown setting", "allowed: " + ", ".join(sorted(known)))
        for toml_key, field_name in keys:
            if toml_key in table:
                value = table[toml_key]
                if _FIELD_TYPES[field_name] == "tuple[str, ...]" and isinstance(value, list):
                    value = tuple(value)
                values[field_name] = value
    unknown_sections = sorted(set(data) - set(SECTIONS))
    if unknown_sections:
        raise _fail(unknown_sections[0], "unknown section", "allowed: " + ", ".join(SECTIONS))
    for required in ("upstream_url", "key_file"):
        if required not in values:
            raise _fail(required, "is required")
    return GatewayConfig(**values)


def load_config(path: str | Path) -> GatewayConfig:
    """Read the gateway's TOML file; errors name the setting that is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GatewayConfigError(f"cannot read gateway config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GatewayConfigError(f"gateway config {path} is not valid TOML: {exc}") from None
    return config_from_mapping(data)


def _toml_value(value: Any) -> str:
    """Serialise one scalar or list of strings as TOML (JSON strings are valid TOML strings)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(json.dumps(v) for v in value) + "]"


def config_to_toml(config: GatewayConfig) -> str:
    """Write the config in a fixed section and key order, so rendering is deterministic."""
    lines = ["# slm-deploy serving gateway. Keys live in the key file, never here."]
    for section, keys in SECTIONS.items():
        lines.append("")
        lines.append(f"[{section}]")
        for toml_key, field_name in keys:
            lines.append(f"{toml_key} = {_toml_value(getattr(config, field_name))}")
    return "\n".join(lines) + "\n"
