"""Limits on a `response_format` JSON schema, checked before ONNX Runtime GenAI compiles it into a grammar.

The grammar compiler (llguidance) writes one grammar rule per array position, so `minItems: 1000000000` would
allocate without bound, and it checks every pair of `patternProperties` patterns for overlap, so a few hundred
patterns take seconds. These limits refuse such schemas at once with a message naming the limit; whatever gets
past them still compiles under a time and memory budget (`grammar_budget`). The counts of properties and enum
values are the ones OpenAI documents for structured outputs, so a schema written for OpenAI fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ARRAY_POSITIONS = 10_000
"""Array positions the grammar may spell out, summed over the schema (minItems, maxItems, prefixItems)."""
MAX_LENGTH = 1_000_000
"""Largest minLength/maxLength/minProperties/maxProperties: more than any reply fits in a 128k-token context."""
MAX_PATTERN_PROPERTIES = 32
"""patternProperties per object; the compiler checks each pair of them for overlap."""
MAX_PATTERN_CHARS = 4096
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000
MAX_EXPANDED_SUBSCHEMAS = 100_000
"""Subschemas walked with every $ref followed: definitions that use each other twice over double at each level."""

SUBSCHEMA = ("items", "additionalItems", "additionalProperties", "unevaluatedItems", "unevaluatedProperties",
             "contains", "not", "if", "then", "else", "propertyNames", "contentSchema")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
"""Where JSON Schema nests schemas; everything else (enum, const, default, examples...) is data, not schema."""
CONTAINS_COUNTS = ("minContains", "maxContains")
LENGTH_COUNTS = ("minLength", "maxLength", "minProperties", "maxProperties")
ENGINE_OPTIONS_KEY = "x-guidance"


class SchemaLimitError(ValueError):
    """The schema asks for more than a limit allows; the message names the keyword and the limit."""


@dataclass
class _Tally:
    array_positions: int = 0
    properties: int = 0
    enum_values: int = 0


def check_schema_limits(schema: Any) -> None:
    """Raise SchemaLimitError for the first limit `schema` exceeds; the walk is iterative, so depth costs nothing."""
    if isinstance(schema, dict) and ENGINE_OPTIONS_KEY in schema:
        raise SchemaLimitError(f"the keyword {ENGINE_OPTIONS_KEY!r} configures the grammar engine and is not accepted")
    tally = _Tally()
    pending: list[tuple[Any, frozenset[str]]] = [(schema, frozenset())]
    visited = 0
    while pending:
        node, refs_above = pending.pop()
        if not isinstance(node, dict):
            continue
        visited += 1
        if visited > MAX_EXPANDED_SUBSCHEMAS:
            raise SchemaLimitError(f"the schema expands to more than {MAX_EXPANDED_SUBSCHEMAS} subschemas once "
                                   "every $ref is followed")
        _check_keywords(node, tally)
        pending.extend((nested, refs_above) for nested in _subschemas(node))
        reference = node.get("$ref")
        if isinstance(reference, str) and reference not in refs_above:
            pending.append((_resolve(schema, reference), refs_above | {reference}))


def _resolve(root: Any, reference: str) -> Any:
    """The subschema a local `#/...` reference points to (None when it points nowhere); the compiler expands
    each use of a definition again, so each use counts again, and a recursive use counts once."""
    if not reference.startswith("#"):
        return None
    node = root
    for part in filter(None, reference[1:].split("/")):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _subschemas(node: dict) -> list[Any]:
    """The schemas nested directly in `node`."""
    nested = [node[keyword] for keyword in SUBSCHEMA if keyword in node]
    for keyword in SUBSCHEMA_LISTS:
        if isinstance(node.get(keyword), list):
            nested.extend(node[keyword])
    for keyword in SUBSCHEMA_MAPS:
        if isinstance(node.get(keyword), dict):
            nested.extend(node[keyword].values())
    return nested


def _check_keywords(node: dict, tally: _Tally) -> None:
    """Check one schema object's own keywords and add its share to the schema-wide totals."""
    for keyword in CONTAINS_COUNTS:
        _count(node, keyword, MAX_ARRAY_POSITIONS)
    for keyword in LENGTH_COUNTS:
        _count(node, keyword, MAX_LENGTH)
    prefix = node.get("prefixItems")
    positions = max(_count(node, "minItems", MAX_ARRAY_POSITIONS), _count(node, "maxItems", MAX_ARRAY_POSITIONS),
                    len(prefix) if isinstance(prefix, list) else 0)
    tally.array_positions += positions
    if tally.array_positions > MAX_ARRAY_POSITIONS:
        raise SchemaLimitError(f"the schema spells out more than {MAX_ARRAY_POSITIONS} array positions in total "
                               "(minItems, maxItems and prefixItems, summed over every array)")
    if isinstance(node.get("pattern"), str) and len(node["pattern"]) > MAX_PATTERN_CHARS:
        raise SchemaLimitError(f"a pattern is longer than {MAX_PATTERN_CHARS} characters")
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict):
        if len(patterns) > MAX_PATTERN_PROPERTIES:
            raise SchemaLimitError(f"an object has more than {MAX_PATTERN_PROPERTIES} patternProperties")
        if any(len(pattern) > MAX_PATTERN_CHARS for pattern in patterns):
            raise SchemaLimitError(f"a patternProperties pattern is longer than {MAX_PATTERN_CHARS} characters")
    properties = node.get("properties")
    tally.properties += len(properties) if isinstance(properties, dict) else 0
    if tally.properties > MAX_PROPERTIES:
        raise SchemaLimitError(f"the schema has more than {MAX_PROPERTIES} properties in total")
    enum = node.get("enum")
    tally.enum_values += len(enum) if isinstance(enum, list) else 0
    if tally.enum_values > MAX_ENUM_VALUES:
        raise SchemaLimitError(f"the schema has more than {MAX_ENUM_VALUES} enum values in total")


def _count(node: dict, keyword: str, limit: int) -> int:
    """The value of a counting keyword (0 when absent); anything but a whole number from 0 to `limit` is refused."""
    value = node.get(keyword, 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise SchemaLimitError(f"{keyword} must be a whole number from 0 to {limit}")
    return value
