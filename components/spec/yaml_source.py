"""Read a spec's YAML strictly: YAML 1.2 core types, no duplicate keys, bounded size and depth, and
the line of every key, so each error can point at the line that caused it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from yaml._yaml import CParser  # libyaml's parser, as yaml.CSafeLoader uses it
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from slm_deploy.errors import Problem, SpecError, value_kind

def load_shipped(text: str) -> Any:
    """Parse a YAML file the package ships (catalogue, pins, records): trusted input, so libyaml's loader."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


MAX_BYTES = 1024 * 1024
"""Largest spec file read: a real spec is a few kilobytes; this bounds time and memory."""
MAX_DEPTH = 32
"""Deepest nesting accepted; a spec nests about six levels, a stack file three more."""
MAX_NODES = 20_000
"""Most values a deployment may expand to, counting every alias expansion."""
MAX_COMPOSED = 5_000
"""Most keys and values the parser builds before alias expansion; a spec holds a few hundred, and
stopping here bounds parse time (pure-Python parsing costs about 0.1 ms per node)."""
MAX_INTEGER_DIGITS = 100
"""Longest integer read; a spec's numbers have a few digits, and Python refuses to read past 4300."""
_MERGE = "tag:yaml.org,2002:merge"

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema: only true/false (also spelt True/TRUE, False/FALSE) are booleans and only decimal
    digits are integers, as in JSON Schema and editors (YAML 1.1 would read `no` as false and `010` as 8)."""


_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(_FLOAT.pattern + r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"), list("-+0123456789."))
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


class SourceMapping(dict):
    """A mapping that remembers the line of each key and any key given twice."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int, int]] = []


class OverlongInteger:
    """An integer scalar too long to read, kept in place so the error can name its field."""


class SourceSequence(list):
    """A sequence that remembers the line of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _Constructor(SafeConstructor):
    """Build SourceMapping/SourceSequence values and the YAML 1.2 core scalars."""

    def construct_yaml_map(self, node: yaml.MappingNode):  # noqa: D102 - PyYAML's hook
        data = SourceMapping(node.start_mark.line + 1)
        yield data
        explicit = [key for key, _ in node.value if key.tag != _MERGE]
        data.update(self.construct_mapping(node))
        for key_node in explicit:
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in data.key_lines:
                data.duplicates.append((key, data.key_lines[key], line))
            else:
                data.key_lines[key] = line

    def flatten_mapping(self, node: yaml.MappingNode) -> None:  # noqa: D102 - PyYAML's hook
        """Apply one `<<` merge key as YAML's merge type defines it: the mapping's own keys win, and
        in a list of merged mappings the earlier one wins."""
        merges = [pair for pair in node.value if pair[0].tag == _MERGE]
        if not merges:
            return
        if len(merges) > 1:
            raise Refused(merges[1][0].start_mark, "a mapping holds more than one merge key `<<`",
                          "one `<<` per mapping; list several anchors in it: <<: [*a, *b]")
        value = merges[0][1]
        sources = value.value if isinstance(value, SequenceNode) else [value]
        own = [pair for pair in node.value if pair[0].tag != _MERGE]
        merged, seen = [], {_key_identity(key) for key, _ in own}
        for source in sources:
            if not isinstance(source, MappingNode):
                raise Refused(source.start_mark, "a merge key `<<` holds something other than mappings",
                              "<<: *anchor or <<: [*a, *b], each anchor a mapping")
            self.flatten_mapping(source)
            _refuse_duplicate_keys(source)
            for pair in source.value:
                if _key_identity(pair[0]) not in seen:
                    seen.add(_key_identity(pair[0]))
                    merged.append(pair)
        node.value = merged + own

    def construct_yaml_seq(self, node: yaml.SequenceNode):  # noqa: D102 - PyYAML's hook
        data = SourceSequence(node.start_mark.line + 1)
        yield data
        data.extend(self.construct_sequence(node))
        data.item_lines = [item.start_mark.line + 1 for item in node.value]

    def construct_core_int(self, node: yaml.ScalarNode) -> int | OverlongInteger:  # noqa: D102 - PyYAML's hook
        text = self.construct_scalar(node)
        return OverlongInteger() if len(text.lstrip("+-")) > MAX_INTEGER_DIGITS else int(text)

    def construct_core_float(self, node: yaml.ScalarNode) -> float:  # noqa: D102 - PyYAML's hook
        text = self.construct_scalar(node)
        return _SPECIAL_FLOATS.get(text.lower()) or float(text)


def _key_identity(key: yaml.Node) -> Any:
    """What makes two key nodes the same key: tag and text for a scalar, the node itself otherwise."""
    return (key.tag, key.value) if isinstance(key, ScalarNode) else id(key)


def _refuse_duplicate_keys(source: MappingNode) -> None:
    """A mapping merged with `<<` is not built on its own, so its duplicate keys are refused here."""
    keys = set()
    for key, _ in source.value:
        if _key_identity(key) in keys:
            raise Refused(key.start_mark, "duplicate key in a mapping merged with `<<`",
                          "each key once; YAML keeps only the last value")
        keys.add(_key_identity(key))


# types-PyYAML types a constructor's first argument as one of PyYAML's own Loader classes; these methods run on
# _StrictLoader, whose constructor base this mixin is, so the stub's bound is too narrow for them.
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_yaml_seq)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_core_int)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_core_float)  # type: ignore[type-var]


class _Position(Protocol):
    """What errors read of a PyYAML mark (the pure-Python and the libyaml one alike)."""

    line: int
    column: int


def _where(source: str, mark: _Position | None) -> str:
    """file:line:column of a mark, 1-based as editors count; the file alone without one."""
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source


class Refused(yaml.YAMLError):
    """Well-formed YAML that a spec does not accept (tags, cycles, sizes); names the rule, not the text."""

    def __init__(self, mark: _Position | None, problem: str, allowed: str = "") -> None:
        super().__init__()
        self.problem_mark = mark
        self.problem = problem
        self.allowed = allowed


class _StrictComposer(Composer):
    """PyYAML's composer, refusing what a spec cannot hold (depth, size, alias cycles, explicit tags) as it goes."""

    def __init__(self) -> None:
        Composer.__init__(self)
        self._depth = 0
        self._composed = 0
        self._open_anchors: list[str] = []
        self._heights: dict[int, int] = {}

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        event = self.peek_event()
        self._refuse(event)
        anchor = None if isinstance(event, AliasEvent) else event.anchor
        self._depth += 1
        if anchor is not None:
            self._open_anchors.append(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.pop()

    def _refuse(self, event: yaml.Event) -> None:
        """Stop at the first node a spec cannot hold, before building it."""
        self._composed += 1
        if self._depth >= MAX_DEPTH:
            raise Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        if self._composed > MAX_COMPOSED:
            raise Refused(event.start_mark, f"holds more than {MAX_COMPOSED} keys and values",
                          "a spec of a few hundred values")
        if isinstance(event, AliasEvent) and event.anchor in self._open_anchors:
            raise Refused(event.start_mark, "an alias refers to the mapping or list that contains it",
                          "aliases to anchors defined outside the value that uses them")
        if isinstance(event, AliasEvent) and event.anchor in self.anchors:
            if self._depth + self._height(self.anchors[event.anchor]) > MAX_DEPTH:
                raise Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.tag is not None:
            raise Refused(event.start_mark, "has an explicit YAML tag",
                          "plain YAML: no tags (!!int, !!bool, !custom); write the value itself")

    def _height(self, node: yaml.Node) -> int:
        """Levels a composed node spans with its aliases expanded; remembered, so a chain costs one pass."""
        if id(node) not in self._heights:
            children = [item for pair in node.value for item in pair] if isinstance(node, MappingNode) else (
                node.value if isinstance(node, SequenceNode) else [])
            self._heights[id(node)] = 1 + max((self._height(child) for child in children), default=0)
        return self._heights[id(node)]


class _StrictLoader(Reader, Scanner, Parser, _StrictComposer, _Constructor, _CoreResolver):
    """PyYAML's pure-Python pipeline with the core resolver, source-aware values and a depth bound: what reports
    a spec that cannot be read, with PyYAML's own messages."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self)
        _Constructor.__init__(self)
        _CoreResolver.__init__(self)


class _LibyamlStrictLoader(_StrictComposer, CParser, _Constructor, _CoreResolver):
    """The same composer, constructor and resolver on libyaml's scanner and parser, which read a spec several
    times faster; the composer comes first, so every node still passes the strict checks."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        _StrictComposer.__init__(self)
        _Constructor.__init__(self)
        _CoreResolver.__init__(self)


@dataclass(frozen=True)
class SourceDocument:
    """Plain data read from a file, and the line each dotted path starts on."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest parent that the file spells out."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent_path(path)
        return self.lines.get("")


def _parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def join_path(parent: str, step: str | int) -> str:
    """Dotted path as errors print it: a.b[0].c."""
    if isinstance(step, int):
        return f"{parent}[{step}]"
    return f"{parent}.{step}" if parent else str(step)


def read_text(path: Path) -> str:
    """The file's text, refusing what cannot be a spec (too large, not UTF-8, unreadable)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(Problem(str(path), "file not found")) from None
    except IsADirectoryError:
        raise SpecError(Problem(str(path), "is a directory, not a spec file")) from None
    except OSError as exc:
        raise SpecError(Problem(str(path), f"cannot read: {exc.strerror or exc.__class__.__name__}")) from None
    if len(raw) > MAX_BYTES:
        raise SpecError(Problem(str(path), f"larger than {MAX_BYTES // 1024} KiB; a spec is a few kilobytes",
                                hint="check that this is the spec file you meant"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(Problem(str(path), "is not UTF-8 text")) from None


_UNREAD = object()
"""What _read_with_libyaml gives back for a document it does not return."""


def _read_with_libyaml(text: str) -> Any:
    """The document as the strict composer builds it from libyaml's events, or _UNREAD if anything refuses it."""
    try:
        loader = _LibyamlStrictLoader(text)
    except UnicodeEncodeError:  # a lone surrogate, which libyaml cannot be handed
        return _UNREAD
    try:
        return loader.get_single_data()
    except yaml.YAMLError:  # reported by PyYAML's own pipeline, with the messages and positions users see
        return _UNREAD
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document with the strict loader; malformed YAML names the line, never the text. libyaml
    reads it; only a document it or the strict checks refuse is read again by the pure-Python pipeline, so every
    error reads as it always has."""
    document = _read_with_libyaml(text)
    if document is not _UNREAD:
        return document
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise SpecError(Problem(f"{source}:{line}", f"holds the non-printable character U+{exc.character:04X}",
                                allowed="printable UTF-8 text; tabs and line breaks",
                                hint="remove the control character (it may be invisible in an editor)")) from None
    try:
        return loader.get_single_data()
    except Refused as exc:
        raise SpecError(Problem(_where(source, exc.problem_mark), exc.problem, allowed=exc.allowed)) from None
    except yaml.YAMLError as exc:
        where = _where(source, getattr(exc, "problem_mark", None))
        problem = _without_quoted_input(getattr(exc, "problem", None) or "not valid YAML")
        raise SpecError(Problem(where, f"malformed YAML: {problem}",
                                hint="check indentation and quoting")) from None
    finally:
        loader.dispose()


def _without_quoted_input(problem: str) -> str:
    """PyYAML quotes what it found and expected: its token names (`<stream end>`) and single punctuation marks stay,
    anything longer from the file (an alias name, an escaped character) becomes "(not shown)"."""
    def shown(match: re.Match[str]) -> str:
        quoted = match.group(2)
        if re.fullmatch(r"<[a-z ]+>", quoted):
            return quoted
        return match.group(0) if re.fullmatch(r"[^\w\s]", quoted) else "(not shown)"

    return re.sub(r"(['\"])(.*?)\1", shown, problem).strip() or "not valid YAML"


def plain(value: Any, source: str) -> SourceDocument:
    """Copy source-aware values into plain dicts and lists, recording lines and refusing duplicate
    keys, non-string keys and documents that expand beyond MAX_NODES values."""
    lines: dict[str, int] = {"": getattr(value, "line", 1)}
    problems: list[Problem] = []
    budget = [MAX_NODES]

    def copy(node: Any, path: str) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecError(Problem("<spec>", f"expands to more than {MAX_NODES} values (aliases included)",
                                    hint="a spec holds a few hundred values; check anchors and aliases",
                                    location=source))
        if isinstance(node, SourceMapping):
            for key, first, again in node.duplicates:
                problems.append(Problem(join_path(path, str(key)), f"duplicate key (first on line {first})",
                                        hint="YAML keeps only the last value; remove one of them",
                                        location=f"{source}:{again}"))
            out = {}
            for key, item in node.items():
                if not isinstance(key, str):
                    problems.append(Problem(path or "<spec>", f"has a key that is not a string ({value_kind(key)})",
                                            allowed="string keys; quote the key",
                                            location=f"{source}:{node.key_lines.get(key, node.line)}"))
                    continue
                child = join_path(path, key)
                lines[child] = node.key_lines.get(key, node.line)
                out[key] = copy(item, child)
            return out
        if isinstance(node, OverlongInteger):
            problems.append(Problem(path or "<spec>", f"is an integer longer than {MAX_INTEGER_DIGITS} digits",
                                    allowed="a number of a few digits", location=f"{source}:{lines.get(path, 1)}"))
            return None
        if isinstance(node, SourceSequence):
            out_list = []
            for index, item in enumerate(node):
                child = join_path(path, index)
                lines[child] = node.item_lines[index] if index < len(node.item_lines) else node.line
                out_list.append(copy(item, child))
            return out_list
        return node

    data = copy(value, "")
    if problems:
        raise SpecError(problems)
    return SourceDocument(data, lines)
