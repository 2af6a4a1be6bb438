"""Open WebUI's record, read from the PyPI wheel of the pinned version.

Besides the variables it reads, the record names the ones whose values only seed the configuration
database (`persistent_env`): with persistent configuration on, the stored copy wins after the first start,
so a deployment that wants its environment to take effect on every start must switch it off.
"""

from __future__ import annotations

import ast

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import pypi_wheel, python_sources
from slm_deploy.pins.interfaces.pysource import env_names, routes, string_literal, trees

PACKAGE = "open_webui"
CONFIG_MODULE = "open_webui/config.py"
ENV_MODULE = "open_webui/env.py"
DEFAULTS_TABLE = "DEFAULT_CONFIG"
PERSISTENCE_SWITCH = "ENABLE_PERSISTENT_CONFIG"
DATA_ROOT_DEFAULT = "/app/backend/data"
"""BACKEND_DIR/data as the upstream image lays it out (the package lives in /app/backend/open_webui)."""
SOURCES = ("https://pypi.org/project/open-webui/{version}/", "https://github.com/open-webui/open-webui/tree/v{version}")


def derive(version: str) -> dict:
    """The open-webui record for tag v<version>."""
    number = version.removeprefix("v")
    wheel = pypi_wheel("open-webui", number)
    sources = python_sources(wheel.path, PACKAGE, skip=("open_webui/migrations/",))
    parsed = dict(trees(sources))
    if CONFIG_MODULE not in parsed or ENV_MODULE not in parsed:
        raise RecordError(f"{wheel.path.name}: no {CONFIG_MODULE} or {ENV_MODULE}")
    env = env_names(parsed.values())
    persistent = persistent_env(parsed[CONFIG_MODULE]) & env
    if PERSISTENCE_SWITCH not in env or not persistent:
        raise RecordError(f"{wheel.path.name}: the persistent configuration table was not found")
    return {
        "runtime": "open-webui", "version": f"v{number}", "pin": ["open-webui"],
        "artifact": wheel.describe(f"open-webui {number} wheel from PyPI"),
        "derived_by": __name__,
        "sources": [s.format(version=number) for s in SOURCES],
        "flags": [],
        "env": sorted(env),
        "metrics": [],
        "endpoints": sorted(endpoints(parsed)),
        "persistent_env": sorted(persistent),
        "data_paths": sorted(data_paths(parsed)),
    }


def _module_assignments(module: ast.Module) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in module.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(value)
    return found


def persistent_env(config: ast.Module) -> set[str]:
    """Variables that feed a DEFAULT_CONFIG entry, followed through the module-level names computed from them."""
    assignments = _module_assignments(config)
    table = next((values[-1] for name, values in assignments.items() if name == DEFAULTS_TABLE), None)
    if not isinstance(table, ast.Dict):
        return set()
    seen: set[str] = set()
    found: set[str] = set()
    pending = [n.id for value in table.values for n in ast.walk(value) if isinstance(n, ast.Name)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for value in assignments.get(name, []):
            found |= env_names([ast.Module(body=[ast.Expr(value)], type_ignores=[])])
            pending += [n.id for n in ast.walk(value) if isinstance(n, ast.Name)]
    return found


def endpoints(parsed: dict[str, ast.Module]) -> set[str]:
    """Routes of main.py as served, and of each router under the prefix main.py mounts it at."""
    prefixes = _router_prefixes(parsed["open_webui/main.py"])
    found = set(routes([parsed["open_webui/main.py"]]))
    for name, module in parsed.items():
        if name.startswith("open_webui/routers/"):
            router = name.removeprefix("open_webui/routers/").removesuffix(".py")
            for prefix in prefixes.get(router, ()):
                found |= {prefix + (path if path != "/" else "") for path in routes([module])}
    return found


def _router_prefixes(main: ast.Module) -> dict[str, list[str]]:
    """app.include_router(ollama.router, prefix='/ollama', ...) -> {"ollama": ["/ollama"]}."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(main):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "include_router" and node.args:
            router = node.args[0]
            prefix = next((text for k in node.keywords if k.arg == "prefix"
                           and (text := string_literal(k.value)) is not None), "")
            if isinstance(router, ast.Attribute) and isinstance(router.value, ast.Name):
                found.setdefault(router.value.id, []).append(prefix)
    return found


def data_paths(parsed: dict[str, ast.Module]) -> set[str]:
    """Where the program keeps state under DATA_DIR (default BACKEND_DIR/data), as `DATA_DIR/<name>` paths."""
    found = {DATA_ROOT_DEFAULT}
    for module in (parsed[ENV_MODULE], parsed[CONFIG_MODULE]):
        for node in ast.walk(module):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and \
                    isinstance(node.left, ast.Name) and node.left.id in ("DATA_DIR", "CACHE_DIR") and \
                    (name := string_literal(node.right)) is not None:
                root = DATA_ROOT_DEFAULT if node.left.id == "DATA_DIR" else f"{DATA_ROOT_DEFAULT}/cache"
                found.add(f"{root}/{name}")
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.FormattedValue):
                head = node.values[0].value
                if isinstance(head, ast.Name) and head.id in ("DATA_DIR", "CACHE_DIR") and len(node.values) == 2 \
                        and isinstance(node.values[1], ast.Constant):
                    root = DATA_ROOT_DEFAULT if head.id == "DATA_DIR" else f"{DATA_ROOT_DEFAULT}/cache"
                    found.add(root + str(node.values[1].value))
    return found
