"""Serialise rendered data once, with stable key order, so the same spec gives the same bytes."""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
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


def _libyaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)


class _LeftToLibyaml(Exception):
    """Data the direct writer does not write itself: the whole document goes through libyaml instead."""


_LONGEST_LINE_SCALAR = 2048
_LONGEST_KEY = 1024
_DEEPEST_INDENT = 512
"""Past these a line could reach the emitter's width (4096 columns) and libyaml would fold it, depending on where
it sits: such documents go through libyaml (512 + 1024 + 2048 stays well inside the width)."""
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
"""Line breaks libyaml writes as breaks followed by the indentation of where the string sits."""

_PLAIN_SHAPE = re.compile(r"(?!\.\.\.)[A-Za-z0-9_./()$=+~^;<\\](?:[ -~]*[!-~])?", re.ASCII)
"""One line of printable ASCII that starts with no indicator and ends with no space, as names, paths, image
references, URLs, commands and PromQL expressions do: libyaml writes it as it is unless it holds `: ` or ` #`, ends
with `:`, or YAML would read it as something other than a string (true, off, null, 1.0, a date...)."""
_LONGEST_SIMPLE_KEY = 128


def _surely_plain(value: str) -> bool:
    return (_PLAIN_SHAPE.fullmatch(value) is not None and ": " not in value and " #" not in value
            and not value.endswith(":") and _scalar_tag(value, (True, False)) == f"{_TAG}str")


@lru_cache(maxsize=1 << 16)
def _value_text(value: str) -> tuple[str, tuple[str, ...]] | None:
    """How libyaml writes a string after `key: ` or `- `: the line's text, or a literal block's header and its lines
    (without their indentation); None for what the direct writer leaves to libyaml. Learnt from libyaml itself,
    once per distinct string."""
    if len(value) <= _LONGEST_LINE_SCALAR and _surely_plain(value):
        return value, ()
    if _OTHER_BREAKS.search(value):
        return None
    body = _libyaml({"k": value})[3:]
    if not body.startswith("|"):
        one_line = body[:-1]
        return (one_line, ()) if "\n" not in one_line and len(one_line) <= _LONGEST_LINE_SCALAR else None
    header, _, block = body.partition("\n")
    lines = block[:-1].split("\n")
    if "+" in header or any(line and not line.startswith("  ") for line in lines):  # kept breaks end the document with "..."
        return None
    return header, tuple(line[2:] for line in lines)


@lru_cache(maxsize=1 << 16)
def _key_text(key: str) -> str | None:
    """How libyaml writes a string as a mapping key (None for a key it writes in the explicit `? ` form)."""
    if len(key) <= _LONGEST_SIMPLE_KEY and _surely_plain(key):
        return key
    if _OTHER_BREAKS.search(key):
        return None
    text = _libyaml({key: 0})
    one_line = text[:-len(": 0\n")]
    simple = not text.startswith("? ") and text.endswith(": 0\n") and "\n" not in one_line
    return one_line if simple and len(one_line) <= _LONGEST_KEY else None


@lru_cache(maxsize=1 << 12)
def _float_text(spelling: str) -> str:
    """How libyaml writes a float, by its repr (0.0 and -0.0 are equal keys, but written apart)."""
    return _libyaml({"k": float(spelling)})[3:-1]


def _scalar(value: Any, indent: int) -> str:
    """A scalar after `key:` or `-`, with its line break; a literal block's lines indented below it."""
    kind = type(value)
    if kind is str:
        text = _value_text(value)
        if text is None:
            raise _LeftToLibyaml
        head, lines = text
        if not lines:
            return f" {head}\n"
        pad = " " * (indent + 2)
        return "".join([f" {head}\n", *(f"{pad}{line}\n" if line else "\n" for line in lines)])
    if kind is bool:
        return " true\n" if value else " false\n"
    if kind is int:
        return f" {value}\n"
    if value is None:
        return " null\n"
    if kind is float:
        return f" {_float_text(repr(value))}\n"
    raise _LeftToLibyaml


_ONE_LINE_KINDS = (str, int, bool, type(None))


@lru_cache(maxsize=1 << 16, typed=True)  # typed: `on: 1` and `on: true` are equal keys otherwise
def _one_line_entry(key: Any, value: Any) -> str | None:
    """`key: value` and its line break, for a string key and a one-line value a bundle repeats across its files;
    None for anything else."""
    key_text = _key_text(key) if type(key) is str else None
    if key_text is None:
        return None
    if type(value) is str:
        text = _value_text(value)
        return f"{key_text}: {text[0]}\n" if text is not None and not text[1] else None
    return f"{key_text}:{_scalar(value, 0)}"


def _mapping(data: dict, indent: int, inline: bool, out: list[str]) -> None:
    """A block mapping at `indent`; `inline` when its first key follows a sequence's `- `."""
    if indent > _DEEPEST_INDENT:
        raise _LeftToLibyaml
    pad = " " * indent
    for key, value in data.items():
        if type(value) in _ONE_LINE_KINDS:
            entry = _one_line_entry(key, value)
            if entry is not None:
                out.append(entry if inline else pad + entry)
                inline = False
                continue
        key_text = _key_text(key) if type(key) is str else None
        if key_text is None:
            raise _LeftToLibyaml
        prefix = f"{key_text}:" if inline else f"{pad}{key_text}:"
        inline = False
        kind = type(value)
        if kind is dict:
            if value:
                out.append(f"{prefix}\n")
                _mapping(value, indent + 2, False, out)
            else:
                out.append(f"{prefix} {{}}\n")
        elif kind is list:
            if value:
                out.append(f"{prefix}\n")
                _sequence(value, indent, False, out)  # a mapping's sequences are not indented
            else:
                out.append(f"{prefix} []\n")
        else:
            out.append(prefix + _scalar(value, indent))


def _sequence(data: list, indent: int, inline: bool, out: list[str]) -> None:
    """A block sequence at `indent`; `inline` when its first item follows another sequence's `- `."""
    if indent > _DEEPEST_INDENT:
        raise _LeftToLibyaml
    pad = " " * indent
    for item in data:
        prefix = "-" if inline else f"{pad}-"
        inline = False
        kind = type(item)
        if kind is dict:
            if item:
                out.append(f"{prefix} ")
                _mapping(item, indent + 2, True, out)
            else:
                out.append(f"{prefix} {{}}\n")
        elif kind is list:
            if item:
                out.append(f"{prefix} ")
                _sequence(item, indent + 2, True, out)
            else:
                out.append(f"{prefix} []\n")
        else:
            out.append(prefix + _scalar(item, indent))


def to_yaml(data: Any) -> str:
    """YAML in insertion order (renderers build dicts in the order readers expect). Plain data (dicts, lists,
    strings, integers, floats, booleans, None) is written directly, each distinct string's form learnt once from libyaml:
    the same bytes as libyaml's, without building a node per value; anything else goes through libyaml."""
    out: list[str] = []
    try:
        if type(data) is dict and data:
            _mapping(data, 0, False, out)
        elif type(data) is list and data:
            _sequence(data, 0, False, out)
        else:
            raise _LeftToLibyaml
    except _LeftToLibyaml:
        return _libyaml(data)
    return "".join(out)


def to_yaml_documents(documents: list[Any]) -> str:
    """Several YAML documents in one file."""
    return "---\n".join(to_yaml(doc) for doc in documents)


class _LeftToJsonModule(Exception):
    """Data the direct JSON writer does not write itself: the json module writes the whole document instead."""


_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}
_JSON_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _json_value(value: Any, depth: int, out: list[str]) -> None:
    """One value as json.dumps(indent=2, sort_keys=True, ensure_ascii=False) writes it at `depth`, without its
    generator per container and per item (a dashboard holds thousands of values)."""
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif kind is dict or kind is list:
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        inner = "\n" + "  " * (depth + 1)
        separator = ("{" if kind is dict else "[") + inner
        if kind is dict:
            for key in sorted(value):
                if type(key) is not str:
                    raise _LeftToJsonModule
                out.append(f"{separator}{encode_basestring(key)}: ")
                separator = "," + inner
                _json_value(value[key], depth + 1, out)
        else:
            for item in value:
                out.append(separator)
                separator = "," + inner
                _json_value(item, depth + 1, out)
        out.append("\n" + "  " * depth + ("}" if kind is dict else "]"))
    elif value is None or kind is bool:
        out.append(_JSON_CONSTANTS[value])
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        spelling = float.__repr__(value)
        out.append(_JSON_FLOATS.get(spelling, spelling))
    else:
        raise _LeftToJsonModule


def to_json(data: Any) -> str:
    """Indented JSON with sorted keys and a final newline: json.dumps(indent=2, sort_keys=True, ensure_ascii=False)
    byte for byte, written directly for plain data (dicts with string keys, lists, strings, numbers, booleans,
    None) and by the json module for anything else."""
    out: list[str] = []
    try:
        _json_value(data, 0, out)
    except _LeftToJsonModule:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out.append("\n")
    return "".join(out)
