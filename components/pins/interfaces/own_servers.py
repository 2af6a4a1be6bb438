"""Records of the two servers slm-deploy ships (ortgenai, gateway), derived from their own code.

Flags and variables come from the servers' option tables and sources, metric names from the collectors
their metric classes register, endpoints from their routers and configuration defaults.
"""

from __future__ import annotations

import ast
from importlib import resources

from slm_deploy import __version__
from slm_deploy.pins.interfaces.pysource import env_names, exposed_series, routes, string_literal, trees

SERVERS_PACKAGE = "slm_deploy.servers"
SOURCE_URL = "https://github.com/slm-deploy/slm-deploy/tree/main/components/servers/{name}"


def _sources(name: str) -> dict[str, str]:
    package = resources.files(f"{SERVERS_PACKAGE}.{name}")
    return {f"{name}/{p.name}": p.read_text(encoding="utf-8") for p in package.iterdir()
            if p.is_file() and p.name.endswith(".py")}


def _argparse_flags(modules) -> set[str]:
    found = {"--help", "-h"}
    for module in modules:
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                found |= {flag for a in node.args if (flag := string_literal(a)) and flag.startswith("-")}
    return found


def _series(registry) -> set[str]:
    """Every series name a registry exposes, including label-only metrics with no sample yet."""
    return set().union(*(exposed_series(family.name, family.type) for family in registry.collect()))


def _record(name: str, artifact: str, **fields) -> dict:
    return {"runtime": name, "version": __version__, "pin": [], "artifact": artifact,
            "derived_by": __name__, "sources": [SOURCE_URL.format(name=name)], **fields}


def derive_ortgenai(_version: str = "") -> dict:
    """The ONNX Runtime GenAI server: every option's flag and variable, its metrics and its routes."""
    from slm_deploy.servers.ortgenai.config import OPTIONS
    from slm_deploy.servers.ortgenai.metrics import ServerMetrics

    parsed = dict(trees(_sources("ortgenai")))
    routes_found = routes(parsed.values()) | _starlette_routes(parsed.values())
    return _record(
        "ortgenai", f"slm_deploy.servers.ortgenai {__version__} (this repository)",
        flags=sorted({o.flag for o in OPTIONS} | _argparse_flags(parsed.values())),
        env=sorted({o.env for o in OPTIONS} | env_names(parsed.values())),
        metrics=sorted(_series(ServerMetrics().registry)),
        endpoints=sorted(routes_found),
        image={"user": "10001", "writable_paths": ["/tmp", "/var/cache/slm"]},
    )


def _starlette_routes(modules) -> set[str]:
    return {path for m in modules for n in ast.walk(m) if isinstance(n, ast.Call)
            and getattr(n.func, "id", "") == "Route" and n.args if (path := string_literal(n.args[0])) is not None}


def derive_gateway(_version: str = "") -> dict:
    """The gateway: its command line, variables, metrics, and the paths it answers itself (the rest it proxies)."""
    from slm_deploy.servers.gateway.config import GatewayConfig
    from slm_deploy.servers.gateway.metrics import GatewayMetrics

    parsed = dict(trees(_sources("gateway")))
    defaults = GatewayConfig.__dataclass_fields__
    own_paths = {defaults["health_path"].default, defaults["metrics_path"].default}
    return _record(
        "gateway", f"slm_deploy.servers.gateway {__version__} (this repository)",
        flags=sorted(_argparse_flags(parsed.values())),
        env=sorted(env_names(parsed.values())),
        metrics=sorted(_series(GatewayMetrics().registry)),
        endpoints=sorted(own_paths | routes(parsed.values())),
        image={"user": "10001", "writable_paths": ["/tmp", "/var/cache/slm"]},
    )
