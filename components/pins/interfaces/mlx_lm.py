"""mlx-lm's records, read from its PyPI wheel: the flags of `mlx_lm.server` and `mlx_lm.convert`, the server's
routes, and the model types (config.json `model_type`) its loader can build.

Both commands build an argparse parser in plain add_argument calls (server.main, convert.configure_parser), so
every option string of those calls is a flag. The loader imports `mlx_lm.models.<model_type>` after applying
utils.MODEL_REMAPPING, so a model type is supported when that module defines `Model` and `ModelArgs`.
"""

from __future__ import annotations

import ast

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import pypi_wheel, python_sources
from slm_deploy.pins.interfaces.pysource import string_literal, trees

PACKAGE = "mlx_lm"
COMMANDS = {"mlx-lm-server": ("server.py", "main"), "mlx-lm-convert": ("convert.py", "configure_parser")}
"""Record id -> the module and function that build that command's parser."""
SERVER_PATHS = ("/health", "/v1/models", "/v1/chat/completions", "/v1/completions")
"""Paths server.py compares the request path with (do_GET's /health and /v1/models, do_POST's factories)."""
MODEL_CLASSES = {"Model", "ModelArgs"}


def derive(record: str, version: str) -> dict:
    """The record `mlx-lm-server` or `mlx-lm-convert` of mlx-lm==version."""
    wheel = pypi_wheel("mlx-lm", version)
    parsed = dict(trees(python_sources(wheel.path, PACKAGE)))
    module, function = COMMANDS[record]
    flags = parser_flags(parsed[f"{PACKAGE}/{module}"], function)
    if "--port" not in flags and "--mlx-path" not in flags:
        raise RecordError(f"{wheel.path.name}: {module} {function}() defines no expected option")
    document: dict = {
        "runtime": record, "version": version, "pin": [],
        "artifact": wheel.describe(f"mlx-lm {version} wheel from PyPI"),
        "derived_by": __name__,
        "sources": [f"https://pypi.org/project/mlx-lm/{version}/", "https://github.com/ml-explore/mlx-lm"],
        "flags": sorted(flags), "env": [], "metrics": [],
        "endpoints": sorted(server_paths(parsed[f"{PACKAGE}/server.py"])) if record == "mlx-lm-server" else [],
        "commands": [record.replace("mlx-lm-", "mlx_lm.")],
    }
    if record == "mlx-lm-convert":
        document["model_types"] = sorted(model_types(parsed))
    return document


def parser_flags(module: ast.Module, function: str) -> set[str]:
    """Every option string of the add_argument calls inside `function`."""
    found: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "add_argument":
                    found |= {text for text in map(string_literal, call.args) if text and text.startswith("-")}
    return found


def server_paths(module: ast.Module) -> set[str]:
    """The known request paths the handler compares or dispatches on, as they appear in server.py."""
    literals = {string_literal(node) for node in ast.walk(module)}
    return {path for path in SERVER_PATHS if path in literals}


def model_types(parsed: dict[str, ast.Module]) -> set[str]:
    """Modules under mlx_lm/models that define Model and ModelArgs, plus the model types remapped onto them."""
    prefix = f"{PACKAGE}/models/"
    modules = {
        name.removeprefix(prefix).removesuffix(".py")
        for name, tree in parsed.items()
        if name.startswith(prefix) and name.count("/") == 2
        and MODEL_CLASSES <= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    }
    remapped = {alias for alias, target in _remapping(parsed[f"{PACKAGE}/utils.py"]).items() if target in modules}
    if not modules:
        raise RecordError("mlx_lm/models holds no module with Model and ModelArgs")
    return modules | remapped


def _remapping(module: ast.Module) -> dict[str, str]:
    """utils.MODEL_REMAPPING: model_type -> the module that serves it."""
    for node in module.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MODEL_REMAPPING" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                pairs = zip(node.value.keys, node.value.values, strict=True)
                return {k: v for k, v in ((string_literal(a), string_literal(b)) for a, b in pairs) if k and v}
    raise RecordError("mlx_lm/utils.py defines no MODEL_REMAPPING")
