"""Field descriptions for the JSON Schema, read from the string under each field only when a schema is made.

pydantic's `use_attribute_docstrings` reads every model's source as the class is created, which made that the
largest single cost of starting a `render`, a command that never shows a description.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache
from typing import Any


@cache
def _own_docstrings(cls: type) -> dict[str, str]:
    """The fields this class body annotates, each with the string literal right under it."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a frozen or interactive class): the schema goes without
        return {}
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    return {stmt.target.id: inspect.cleandoc(following.value.value)
            for stmt, following in zip(body.body, body.body[1:])
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)}


def field_docstring(cls: type, name: str) -> str | None:
    """The docstring of field `name` as the class that last annotates it wrote it (a field a subclass declares
    again without one has none, as with pydantic's own attribute docstrings)."""
    for klass in cls.__mro__:
        if name in klass.__dict__.get("__annotations__", {}):
            return _own_docstrings(klass).get(name)
    return None


def describe_fields(schema: dict[str, Any], cls: Any) -> None:
    """pydantic's json_schema_extra hook: give each property without a description its field's docstring."""
    properties = schema.get("properties", {})
    for name, field in cls.model_fields.items():
        key = field.alias or name
        docstring = field_docstring(cls, name)
        if docstring and field.description is None and key in properties:
            properties[key]["description"] = docstring
