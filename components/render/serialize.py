"""Serialise rendered data once, with stable key order, so the same spec gives the same bytes."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_TAG = "tag:yaml.org,2002:"
_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=1 << 16)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    """The tag YAML reads a plain scalar as: a bundle repeats most of its keys and values many times over."""
    return _RESOLVER.resolve(ScalarNode, value, implicit)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block-style YAML that never emits anchors and quotes strings only where YAML needs it; libyaml's emitter
    where PyYAML was built with it (the same bytes, several times faster than the pure-Python one)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_data(self, data: Any) -> yaml.Node:
        """Plain dicts, lists and scalars straight to the nodes PyYAML's safe representer makes of them (a
        bundle's YAML is almost all such data, and the generic path looks each one up by type); the rest as
        PyYAML does."""
        kind = type(data)
        if kind is str:
            return ScalarNode(f"{_TAG}str", data, style="|" if "\n" in data else None)
        if kind is dict:
            return MappingNode(f"{_TAG}map", [(self.represent_data(key), self.represent_data(value))
                                              for key, value in data.items()], flow_style=False)
        if kind is list:
            return SequenceNode(f"{_TAG}seq", [self.represent_data(item) for item in data], flow_style=False)
        if kind is bool:
            return ScalarNode(f"{_TAG}bool", "true" if data else "false")
        if kind is int:
            return ScalarNode(f"{_TAG}int", str(data))
        if data is None:
            return ScalarNode(f"{_TAG}null", "null")
        return super().represent_data(data)

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        """Scalars' tags from a cache, collections' as PyYAML resolves them."""
        if kind is ScalarNode:
            return _scalar_tag(value, implicit)
        return super().resolve(kind, value, implicit)


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(data: Any) -> str:
    """YAML in insertion order (renderers build dicts in the order readers expect)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)


def to_yaml_documents(documents: list[Any]) -> str:
    """Several YAML documents in one file."""
    return "---\n".join(to_yaml(doc) for doc in documents)


def to_json(data: Any) -> str:
    """Indented JSON with sorted keys and a final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
