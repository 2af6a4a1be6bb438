"""Hypothesis strategies for specs, generated from the published JSON Schema.

hypothesis-jsonschema draws every leaf (strings with their patterns, numbers with their bounds, enums).
Objects, unions and references are walked here once, because hypothesis-jsonschema re-merges object
schemas on every draw, which costs seconds per spec for a schema this size. `chosen` replaces the draw at
some paths with values the schema allows but random text rarely hits (catalogue ids, pinned images), so a
stream of plausible specs gets past the catalogue and into rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

MAX_ITEMS = 3


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/$defs/")
    return {**root["$defs"][name], **{k: v for k, v in schema.items() if k != "$ref"}}


def _leaf(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    keep = {k: v for k, v in schema.items() if k not in ("description", "title", "default", "examples")}
    return from_schema(keep, allow_x00=False, codec="utf-8")


def _keys(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    patterns = list(schema.get("patternProperties", {}))
    names = dict(schema.get("propertyNames", {}), type="string")
    if patterns:
        return st.one_of([st.from_regex(p, fullmatch=True) for p in patterns]).filter(
            lambda key: len(key) <= names.get("maxLength", 10**6))
    return _leaf(names)


class SpecStrategies:
    """Build (once) a strategy for every sub-schema, keyed by its dotted path."""

    def __init__(self, root: Mapping[str, Any], chosen: Mapping[str, st.SearchStrategy[Any]] | None = None) -> None:
        self.root = root
        self.chosen = dict(chosen or {})

    def strategy(self, schema: Mapping[str, Any] | None = None, path: str = "") -> st.SearchStrategy[Any]:
        """Values the schema at `path` allows, or the chosen ones for that path."""
        if path in self.chosen:
            return self.chosen[path]
        return self._strategy(_resolve(self.root if schema is None else schema, self.root), path)

    def _strategy(self, schema: Mapping[str, Any], path: str) -> st.SearchStrategy[Any]:
        for union in ("anyOf", "oneOf"):
            if union in schema:
                return st.one_of([self._strategy(_resolve(option, self.root), path) for option in schema[union]])
        if "properties" in schema:
            return self._object(schema, path)
        extra = schema.get("additionalProperties")
        if "patternProperties" in schema or isinstance(extra, Mapping):
            value_schema = extra if isinstance(extra, Mapping) else next(iter(schema["patternProperties"].values()))
            return st.dictionaries(_keys(schema), self.strategy(value_schema, f"{path}.*"), max_size=MAX_ITEMS)
        if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
            return st.lists(self.strategy(schema["items"], f"{path}[]"), max_size=MAX_ITEMS)
        return _leaf(schema)

    def _object(self, schema: Mapping[str, Any], path: str) -> st.SearchStrategy[dict[str, Any]]:
        required = set(schema.get("required", ()))
        children = {name: self.strategy(sub, f"{path}.{name}" if path else name)
                    for name, sub in schema["properties"].items()}
        return st.fixed_dictionaries({n: s for n, s in children.items() if n in required},
                                     optional={n: s for n, s in children.items() if n not in required})
