"""Read Python sources as syntax trees: which environment variables, routes and metrics a program defines."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
ROUTE_METHODS = {"get", "post", "put", "delete", "patch", "head", "options", "api_route", "route", "websocket"}
METRIC_KINDS = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary", "info": "info"}


def trees(sources: dict[str, str]) -> Iterator[tuple[str, ast.Module]]:
    """Parse every file; a file Python cannot parse is skipped (wheels carry a few templates named .py)."""
    for name, text in sorted(sources.items()):
        try:
            yield name, ast.parse(text, filename=name)
        except SyntaxError:
            continue


def string_literal(node: ast.AST | None) -> str | None:
    """The text of a string constant; None for any other node."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def env_names(modules: Iterable[ast.Module]) -> set[str]:
    """Names looked up in the process environment: os.getenv/os.environ[...]/.get/.setdefault/`in`, env helpers,
    and the keys of an `environment_variables` table (vLLM's envs.py)."""
    found: set[str] = set()
    for module in modules:
        constants = _string_constants(module)

        def literal(node: ast.AST | None, constants: dict[str, str] = constants) -> str | None:
            if isinstance(node, ast.Name):
                return constants.get(node.id)
            return string_literal(node)

        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                callee, first = _callee(node), literal(node.args[0]) if node.args else None
                if first is None:
                    continue
                target = node.func.value if isinstance(node.func, ast.Attribute) else None
                if callee in ("getenv", "getenvb", "unsetenv", "putenv") or (
                        callee in ("get", "setdefault", "pop") and target is not None and _is_environ(target)) or (
                        "env" in callee.lower() and ENV_NAME.match(first)):
                    found.add(first)
            elif isinstance(node, ast.Subscript) and _is_environ(node.value):
                key = literal(node.slice)
                if key:
                    found.add(key)
            elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
                key = string_literal(node.left)
                if key:
                    found.add(key)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "environment_variables" for t in node.targets):
                found |= _dict_keys(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                    node.target.id == "environment_variables" and node.value is not None:
                found |= _dict_keys(node.value)
    return {name for name in found if ENV_NAME.match(name)}


def _string_constants(module: ast.Module) -> dict[str, str]:
    """Module-level NAME = "TEXT" bindings, so os.environ[NAME] resolves to the variable it names."""
    found = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = string_literal(node.value)
            if value is not None:
                found[node.targets[0].id] = value
    return found


def _dict_keys(node: ast.AST) -> set[str]:
    return {key for key in (string_literal(k) for k in getattr(node, "keys", []) or []) if key}


def routes(modules: Iterable[ast.Module]) -> set[str]:
    """Paths registered with @app.get("/x"), @router.post(...), add_api_route("/x", ...) and the like."""
    found: set[str] = set()
    for module in modules:
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and node.args:
                callee, path = _callee(node), string_literal(node.args[0])
                if path and path.startswith("/") and (callee in ROUTE_METHODS or callee in (
                        "add_api_route", "add_route", "add_websocket_route", "add_get", "add_post", "mount", "Mount")):
                    found.add(path)
    return found


def metrics(modules: Iterable[ast.Module], prefix: str) -> dict[str, str]:
    """Metric names (with `prefix`) created through a Counter/Gauge/Histogram-like constructor, with their kind.

    A name bound to a variable first (`name = "x"; Gauge(name=name)`) takes the kind of the call in the
    same function that uses the variable."""
    found: dict[str, str] = {}
    for module in modules:
        for function in [module, *(n for n in ast.walk(module) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]:
            pending: set[str] = set()
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    value = string_literal(node.value)
                    if value and value.startswith(prefix):
                        pending.add(value)
                if not isinstance(node, ast.Call):
                    continue
                kind = _metric_kind(_callee(node))
                if kind is None:
                    continue
                named = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
                literal = string_literal(named)
                if literal and literal.startswith(prefix):
                    found.setdefault(literal, kind)
                elif isinstance(named, ast.Name):
                    for value in pending:
                        found.setdefault(value, kind)
    return found


def _metric_kind(callee: str) -> str | None:
    lowered = callee.lower()
    return next((kind for word, kind in METRIC_KINDS.items() if word in lowered), None)


def exposed_series(name: str, kind: str) -> set[str]:
    """The names prometheus_client writes on /metrics for one metric (counters get _total, histograms three)."""
    if kind == "counter":
        base = name[:-len("_total")] if name.endswith("_total") else name
        return {f"{base}_total"}
    if kind in ("histogram", "summary"):
        series = {f"{name}_sum", f"{name}_count"}
        return series | ({f"{name}_bucket"} if kind == "histogram" else set())
    if kind == "info":
        return {name if name.endswith("_info") else f"{name}_info"}
    return {name}
