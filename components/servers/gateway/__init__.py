"""An API-key, rate-limit and metrics gateway that sits in front of every serving runtime.

The package imports only the standard library, httptools, multidict, prometheus_client and uvloop (plus
slm_deploy.errors), so the gateway image can carry it without the rest of slm-deploy.
"""

from slm_deploy.servers.gateway.config import GatewayConfig, GatewayConfigError, load_config
from slm_deploy.servers.gateway.render import (
    GATEWAY_CONFIG_DIR,
    GATEWAY_CONFIG_FILE,
    GATEWAY_HEALTH_PATH,
    GATEWAY_METRICS_PATH,
    GATEWAY_METRICS_PORT,
    gateway_sources,
    gateway_command,
    gateway_healthcheck_command,
    render_gateway_config,
)

__all__ = [
    "GATEWAY_CONFIG_DIR",
    "GATEWAY_CONFIG_FILE",
    "GATEWAY_HEALTH_PATH",
    "GATEWAY_METRICS_PATH",
    "GATEWAY_METRICS_PORT",
    "GatewayConfig",
    "GatewayConfigError",
    "gateway_sources",
    "gateway_command",
    "gateway_healthcheck_command",
    "load_config",
    "render_gateway_config",
]
