"""The tool-call and reasoning parser names vLLM registers, read from the wheel's parser packages.

vLLM resolves `--tool-call-parser NAME` and `--reasoning-parser NAME` in a manager filled by its parser packages:
each package's `__init__.py` registers a table (`_TOOL_PARSERS_TO_REGISTER`, `_REASONING_PARSERS_TO_REGISTER`,
name -> module and class) lazily, and a parser module may register itself with `register_module("name")`.
Nothing is imported: the sources are syntax trees, so docstring examples do not count.
"""

from __future__ import annotations

import ast

from slm_deploy.pins.interfaces import RecordError

PARSER_PACKAGES = {"--tool-call-parser": "vllm/tool_parsers/", "--reasoning-parser": "vllm/reasoning/"}
"""Flag -> the package whose registrations it chooses from."""
REGISTER_CALLS = ("register_module", "register_lazy_module")
TABLE_SUFFIX = "_TO_REGISTER"


def registered_names(modules: dict[str, ast.Module], package: str) -> set[str]:
    """Every parser name the modules under `package` register, by table or by call."""
    found: set[str] = set()
    for path, module in modules.items():
        if not path.startswith(package):
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id.endswith(TABLE_SUFFIX) for t in node.targets):
                found |= {k.value for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in REGISTER_CALLS:
                found |= _call_names(node)
    return found


def _call_names(call: ast.Call) -> set[str]:
    """`register_module("a")`, `register_module(["a", "b"])` or `register_lazy_module(name="a", ...)`."""
    values = call.args[:1] + [k.value for k in call.keywords if k.arg == "name"]
    names: set[str] = set()
    for value in values:
        items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        names |= {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
    return names


def parser_names(modules: dict[str, ast.Module]) -> dict[str, list[str]]:
    """Flag -> the sorted parser names it accepts at this version; an empty registry means the layout moved."""
    found = {flag: sorted(registered_names(modules, package)) for flag, package in PARSER_PACKAGES.items()}
    for flag, names in found.items():
        if not names:
            raise RecordError(f"no parser registrations found for {flag} under {PARSER_PACKAGES[flag]}")
    return found
