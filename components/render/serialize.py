"""Serialise rendered data once, with stable key order, so the same spec gives the same bytes."""

from __future__ import annotations

import json
from typing import Any

import yaml


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block-style YAML that never emits anchors and quotes strings only where YAML needs it; libyaml's emitter
    where PyYAML was built with it (the same bytes, several times faster than the pure-Python one)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


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
