"""vLLM's record, read from the PyPI wheel of the pinned version: argparse definitions, envs and how each is parsed,
metrics, routes and the parser names --tool-call-parser and --reasoning-parser accept.

`vllm serve` builds its parser from dataclass fields (FrontendArgs) and explicit add_argument calls
(EngineArgs.add_cli_args). Booleans use argparse.BooleanOptionalAction, so they also accept --no-<flag>.
Nothing is imported: the wheel's sources are parsed as syntax trees.
"""

from __future__ import annotations

import ast
import re

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import pypi_wheel, python_sources
from slm_deploy.pins.interfaces.pysource import env_names, exposed_series, metrics, routes, string_literal, trees
from slm_deploy.pins.interfaces.vllm_env_values import env_values
from slm_deploy.pins.interfaces.vllm_parsers import parser_names
from slm_deploy.pins.interfaces.vllm_registries import registry_choices

PACKAGE = "vllm"
CLI_ARGS = "vllm/entrypoints/openai/cli_args.py"
ENGINE_ARGS = "vllm/engine/arg_utils.py"
ENVS = "vllm/envs.py"
SKIP = ("vllm/benchmarks/", "vllm/third_party/", "vllm/vllm_flash_attn/")
FRONTEND_CLASS = "FrontendArgs"
PARSER_FUNCTION = "make_arg_parser"
ENGINE_FUNCTIONS = ("add_cli_args",)
ENGINE_CLASSES = ("EngineArgs", "AsyncEngineArgs")
SOURCES = ("https://pypi.org/project/vllm/{version}/", "https://github.com/vllm-project/vllm/tree/v{version}")


def derive(version: str) -> dict:
    """The vllm record for tag v<version>, from the wheel PyPI serves for that version."""
    number = version.removeprefix("v")
    wheel = pypi_wheel(PACKAGE, number)
    sources = python_sources(wheel.path, PACKAGE, skip=SKIP)
    parsed = dict(trees(sources))
    classes = Classes(parsed)
    flags = frontend_flags(parsed, classes) | engine_flags(parsed, classes)
    if "--served-model-name" not in flags or "--port" not in flags:
        raise RecordError(f"{wheel.path.name}: the argument definitions were not found where expected")
    families = metrics(parsed.values(), "vllm:")
    return {
        "runtime": "vllm", "version": f"v{number}", "pin": ["vllm"],
        "artifact": wheel.describe(f"vllm {number} wheel from PyPI"),
        "derived_by": __name__,
        "sources": [s.format(version=number) for s in SOURCES],
        "flags": sorted(flags),
        "env": sorted(env_names(parsed.values())),
        "metrics": sorted(set().union(*(exposed_series(n, k) for n, k in families.items()))),
        "endpoints": sorted(routes(m for name, m in parsed.items() if name.startswith("vllm/entrypoints/"))),
        "flag_values": parser_names(parsed),
        "env_values": (env_values(parsed[ENVS]) if ENVS in parsed else {}) | registry_choices(parsed),
    }


def _dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_boolean_optional(annotation: str) -> bool:
    """get_kwargs gives a bool field BooleanOptionalAction, except `bool | str | None` (a bare flag or a value)."""
    parts = {p.strip() for p in re.split(r"[|,\[\]]", annotation.replace("Optional", "")) if p.strip()}
    return "bool" in parts and not ({"bool", "str", "None"} <= parts and len(parts) == 3)


class Classes:
    """Every class of the package by name, so field look-ups do not walk every module again."""

    def __init__(self, parsed: dict[str, ast.Module]) -> None:
        self._by_name: dict[str, ast.ClassDef] = {}
        for module in parsed.values():
            for node in ast.walk(module):
                if isinstance(node, ast.ClassDef):
                    self._by_name.setdefault(node.name, node)
        self._fields: dict[str, dict[str, str]] = {}

    def fields(self, name: str) -> dict[str, str]:
        """Annotated fields of a class, its base classes' first."""
        if name not in self._fields:
            node = self._by_name.get(name)
            found: dict[str, str] = {}
            if node is not None:
                for base in node.bases:
                    found |= self.fields(ast.unparse(base).split(".")[-1])
                found |= {stmt.target.id: ast.unparse(stmt.annotation) for stmt in node.body
                          if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}
            self._fields[name] = found
        return self._fields[name]


def frontend_flags(parsed: dict[str, ast.Module], classes: Classes) -> set[str]:
    """FrontendArgs fields (and its bases') as --flags, plus make_arg_parser's explicit arguments."""
    if CLI_ARGS not in parsed:
        raise RecordError(f"the wheel has no {CLI_ARGS}")
    found: set[str] = set()
    for name, annotation in classes.fields(FRONTEND_CLASS).items():
        found.add(_dashed(name))
        if _is_boolean_optional(annotation):
            found.add("--no-" + name.replace("_", "-"))
    for node in ast.walk(parsed[CLI_ARGS]):
        if isinstance(node, ast.FunctionDef) and node.name == PARSER_FUNCTION:
            found |= _add_argument_flags(node, classes, {})
    return found


def engine_flags(parsed: dict[str, ast.Module], classes: Classes) -> set[str]:
    """Every add_argument call of EngineArgs.add_cli_args and AsyncEngineArgs.add_cli_args."""
    if ENGINE_ARGS not in parsed:
        raise RecordError(f"the wheel has no {ENGINE_ARGS}")
    found: set[str] = set()
    for node in ast.walk(parsed[ENGINE_ARGS]):
        if isinstance(node, ast.ClassDef) and node.name in ENGINE_CLASSES:
            for function in node.body:
                if isinstance(function, ast.FunctionDef) and function.name in ENGINE_FUNCTIONS:
                    found |= _add_argument_flags(function, classes, _kwargs_sources(function))
    return found


def _kwargs_sources(function: ast.FunctionDef) -> dict[str, str]:
    """`model_kwargs = get_kwargs(ModelConfig)` -> {"model_kwargs": "ModelConfig"}."""
    bound = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "id", "") == "get_kwargs" and node.value.args:
            config = node.value.args[0]
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(config, ast.Name):
                    bound[target.id] = config.id
    return bound


def _add_argument_flags(function: ast.FunctionDef, classes: Classes, kwargs_of: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"):
            continue
        spellings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                     and a.value.startswith("-")]
        found |= set(spellings)
        if _boolean_optional(node, classes, kwargs_of):
            found |= {"--no-" + s[2:] for s in spellings if s.startswith("--")}
    return found


def _boolean_optional(call: ast.Call, classes: Classes, kwargs_of: dict[str, str]) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "action":
            return "BooleanOptionalAction" in ast.unparse(keyword.value)
        if keyword.arg is None:
            for spread in _spread_sources(keyword.value):
                holder, field = spread.value, spread.slice
                name = string_literal(field)
                if isinstance(holder, ast.Name) and name is not None and holder.id in kwargs_of:
                    annotation = classes.fields(kwargs_of[holder.id]).get(name, "")
                    return _is_boolean_optional(annotation)
    return False


def _spread_sources(node: ast.AST) -> list[ast.Subscript]:
    """`**model_kwargs["x"]` and `**{**model_kwargs["x"], "default": None}` both spread model_kwargs["x"]."""
    if isinstance(node, ast.Subscript):
        return [node]
    if isinstance(node, ast.Dict):
        return [v for k, v in zip(node.keys, node.values) if k is None and isinstance(v, ast.Subscript)]
    return []
