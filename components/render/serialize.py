"""Serialise rendered data once, with stable key order, so the same spec gives the same bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import yaml
from yaml._yaml import CEmitter  # libyaml's emitter, as yaml.CSafeDumper uses it
from yaml.events import (DocumentEndEvent, DocumentStartEvent, Event, MappingEndEvent, MappingStartEvent,
                         ScalarEvent, SequenceEndEvent, SequenceStartEvent)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_TAG = "tag:yaml.org,2002:"
_STR = f"{_TAG}str"
_RESOLVER = yaml.resolver.Resolver()
_MAPPING_START, _MAPPING_END = MappingStartEvent(None, f"{_TAG}map", True, flow_style=False), MappingEndEvent()
_SEQUENCE_START, _SEQUENCE_END = SequenceStartEvent(None, f"{_TAG}seq", True, flow_style=False), SequenceEndEvent()
"""The emitter only reads an event, so every block collection shares one pair."""
_SHORT = 256
"""Scalars up to this length are kept as ready events: a bundle repeats most of its keys and values many times."""
_Emit = Callable[[Event], None]


def _plain_tag(value: str) -> str:
    """The tag YAML reads `value` as when it is written plain (a string that reads as another type is quoted);
    remembered for short values only, so a long fleet does not keep every rule file it embedded."""
    return _short_plain_tag(value) if len(value) <= _SHORT else _RESOLVER.resolve(ScalarNode, value, (True, False))


@lru_cache(maxsize=1 << 16)
def _short_plain_tag(value: str) -> str:
    return _RESOLVER.resolve(ScalarNode, value, (True, False))


def _string_style(value: str) -> str | None:
    """Multi-line strings as literal blocks, the rest plain or quoted as YAML needs."""
    return "|" if "\n" in value else None


def _scalar(tag: str, value: str, style: str | None = None) -> ScalarEvent:
    """The event PyYAML's serializer makes of a scalar node: plain where YAML reads it back with its own tag."""
    return ScalarEvent(None, tag, (_plain_tag(value) == tag, tag == _STR), value, style=style)


@lru_cache(maxsize=1 << 16)
def _short_string(value: str) -> ScalarEvent:
    return _scalar(_STR, value, _string_style(value))


@lru_cache(maxsize=1 << 12, typed=True)
def _integer(value: int) -> ScalarEvent:
    return _scalar(f"{_TAG}int", str(value))


_TRUE, _FALSE, _NULL = _scalar(f"{_TAG}bool", "true"), _scalar(f"{_TAG}bool", "false"), _scalar(f"{_TAG}null", "null")


class _Representer(yaml.representer.SafeRepresenter):
    """PyYAML's safe representer, for the few values that are not plain dicts, lists, strings, ints or bools."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Representer.add_representer(str, lambda r, value: r.represent_scalar(_STR, value, style=_string_style(value)))


def _emit_data(emit: _Emit, data: Any) -> None:
    """Plain dicts, lists and scalars straight to the events PyYAML's safe representer and serializer make of
    them (a bundle's YAML is almost all such data); anything else through PyYAML's representer."""
    kind = type(data)
    if kind is str:
        emit(_short_string(data) if len(data) <= _SHORT else _scalar(_STR, data, _string_style(data)))
    elif kind is dict:
        emit(_MAPPING_START)
        for key, value in data.items():
            _emit_data(emit, key)
            _emit_data(emit, value)
        emit(_MAPPING_END)
    elif kind is list:
        emit(_SEQUENCE_START)
        for item in data:
            _emit_data(emit, item)
        emit(_SEQUENCE_END)
    elif kind is int:
        emit(_integer(data))
    elif kind is bool:
        emit(_TRUE if data else _FALSE)
    elif data is None:
        emit(_NULL)
    else:
        _emit_node(emit, _Representer(default_flow_style=False, sort_keys=False).represent_data(data))


def _emit_node(emit: _Emit, node: Node) -> None:
    """A represented node's events, as PyYAML's serializer makes them (no anchors: nothing is shared)."""
    if isinstance(node, ScalarNode):
        emit(_scalar(node.tag, node.value, node.style))
    elif isinstance(node, MappingNode):
        emit(MappingStartEvent(None, node.tag, node.tag == f"{_TAG}map", flow_style=node.flow_style))
        for key, value in node.value:
            _emit_node(emit, key)
            _emit_node(emit, value)
        emit(_MAPPING_END)
    else:
        assert isinstance(node, SequenceNode)
        emit(SequenceStartEvent(None, node.tag, node.tag == f"{_TAG}seq", flow_style=node.flow_style))
        for item in node.value:
            _emit_node(emit, item)
        emit(_SEQUENCE_END)


def to_yaml(data: Any) -> str:
    """YAML in insertion order (renderers build dicts in the order readers expect), block style, never an anchor,
    strings quoted only where YAML needs it: the events go straight to libyaml's emitter, which writes the bytes
    PyYAML's `dump` would, without building a node for every value first."""
    stream = io.StringIO()
    emitter = CEmitter(stream, width=4096, allow_unicode=True)
    emitter.open()
    emitter.emit(DocumentStartEvent(explicit=False))
    _emit_data(emitter.emit, data)
    emitter.emit(DocumentEndEvent(explicit=False))
    emitter.close()
    return stream.getvalue()


def to_yaml_documents(documents: list[Any]) -> str:
    """Several YAML documents in one file."""
    return "---\n".join(to_yaml(doc) for doc in documents)


def to_json(data: Any) -> str:
    """Indented JSON with sorted keys and a final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
