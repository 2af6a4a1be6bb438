"""Variables that choose a vLLM plug-in by name, with the names the wheel registers for each.

VLLM_MEDIA_CONNECTOR and VLLM_VIDEO_LOADER_BACKEND are read as plain text (envs.py) and looked up in a registry
filled by `@REGISTRY.register("name", ...)` decorators across the package; an unregistered name fails the first
media request. A name may be a constant of the same module (`PYNVVIDEOCODEC_VIDEO_BACKEND: Literal[...] = "..."`).
"""

from __future__ import annotations

import ast

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.pysource import string_literal

REGISTRY_OF = {"VLLM_MEDIA_CONNECTOR": "MEDIA_CONNECTOR_REGISTRY", "VLLM_VIDEO_LOADER_BACKEND": "VIDEO_LOADER_REGISTRY"}
"""Variable -> the registry its value names an entry of."""


def registry_choices(modules: dict[str, ast.Module]) -> dict[str, str]:
    """Variable -> "choice:<registered names>", each list sorted; an empty registry means the layout moved."""
    found = {}
    for variable, registry in REGISTRY_OF.items():
        names = sorted({name for module in modules.values() for name in _registered(module, registry)})
        if not names:
            raise RecordError(f"no {registry}.register(...) found for {variable}")
        found[variable] = "choice:" + ",".join(names)
    return found


def _registered(module: ast.Module, registry: str) -> set[str]:
    constants = {target.id: text for node in module.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                 for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(target, ast.Name) and node.value is not None
                 and (text := string_literal(node.value)) is not None}
    names = set()
    for node in ast.walk(module):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == registry and node.args):
            first = node.args[0]
            name = string_literal(first) or (constants.get(first.id) if isinstance(first, ast.Name) else None)
            if name is not None:
                names.add(name)
    return names
