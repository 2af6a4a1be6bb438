"""Translate pydantic's validation errors into problems that name the user's path and never a value."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from slm_deploy.errors import Problem, value_kind
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.fields import PATTERN_DESCRIPTIONS
from slm_deploy.spec.yaml_source import join_path

_MESSAGES = {
    "missing": "required key is missing",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "enum": "is not one of the allowed values",
    "literal_error": "is not one of the allowed values",
    "string_pattern_mismatch": "is not in the allowed form",
}
"""Pydantic error types whose own wording would quote the input or pydantic's internals."""


def _unwrap(annotation: Any) -> list[Any]:
    """The member types of Optional/Union/Annotated annotations."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    return [annotation]


def _walk(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None, Any]:
    """Follow an error location through the spec's types: the path as the user wrote it, the model that holds
    the last step, and the union of plain types the location passed through, if any (union tags such as
    runtime.<kind>, model.prepare.<format> or .float/.int are pydantic's, not the user's)."""
    current: Any = DeploymentSpec
    user_loc: list[Any] = []
    plain_union = None
    for step in loc:
        if plain_union is not None:  # inside one member of a plain union (a list's item): the field is what is wrong
            break
        members = _unwrap(current)
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        containers = [m for m in members if typing.get_origin(m) in (dict, list)]
        if isinstance(step, str) and len([m for m in members if m is not type(None)]) > 1 \
                and not models and not any(typing.get_origin(m) is dict for m in containers):
            plain_union, current = current, None
            continue
        if len(models) > 1:
            tagged = [m for m in models if any(step in typing.get_args(field.annotation)
                                               for field in m.model_fields.values()
                                               if typing.get_origin(field.annotation) is typing.Literal)]
            if tagged:
                current = tagged[0]
                continue
            current = None
        elif models and isinstance(step, str) and step in models[0].model_fields:
            current = models[0].model_fields[step].annotation
        elif containers:
            current = typing.get_args(containers[0])[-1]
        else:
            current = None
        user_loc.append(step)
    models = [m for m in _unwrap(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    return tuple(user_loc), (models[0] if len(models) == 1 else None), plain_union


def _kinds(union: Any) -> str:
    """What a union of plain types accepts, in words: `true or false, an integer, a number, text`."""
    words = []
    for member in _unwrap(union):
        if typing.get_origin(member) is typing.Literal:
            words.append(" or ".join(repr(v) for v in typing.get_args(member)))
        elif typing.get_origin(member) is list:
            words.append("a list of " + _kinds(typing.get_args(member)[0]).replace("text", "texts"))
        elif member is not type(None):
            words.append(_KIND_WORDS.get(member, "text"))
    return ", ".join(dict.fromkeys(words))


_KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "text"}
_TYPE_ALLOWED = {"int_type": "an integer", "int_parsing": "an integer", "int_from_float": "a whole number",
                 "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
                 "bool_type": "true or false", "bool_parsing": "true or false", "string_type": "a string",
                 "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
                 "list_type": "a list"}
"""What each pydantic type error allows, for the `allowed:` line."""


def dotted(loc: tuple[Any, ...]) -> str:
    """a.b[0].c from a location tuple."""
    out = ""
    for step in loc:
        out = join_path(out, step)
    return out


def _bounds(ctx: dict[str, Any]) -> str:
    """What a numeric or length constraint allows, in words."""
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than",
             "min_length": "at least {} characters", "max_length": "at most {} characters"}
    parts = []
    for key, word in words.items():
        if key in ctx:
            parts.append(word.format(ctx[key]) if "{}" in word else f"{word} {ctx[key]}")
    return ", ".join(parts)


def _problem(error: ErrorDetails) -> Problem:
    raw = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = f"(got {value_kind(error.get('input'))})"
    if raw[-1:] == ("[key]",):  # a bad mapping key: name the mapping, never the key the user typed
        loc, _, _ = _walk(raw[:-2])
        if kind in ("enum", "literal_error"):
            allowed = f"the keys {ctx.get('expected', '')}"
        else:
            allowed = f"keys of {PATTERN_DESCRIPTIONS.get(ctx.get('pattern', ''), _bounds(ctx) or 'the form the schema gives')}"
        return Problem(dotted(loc), "has a key that is not allowed", allowed=allowed)
    loc, _, plain_union = _walk(raw)
    path = dotted(loc)
    kinds = _kinds(plain_union) if plain_union is not None else ""
    if kinds and kind != "missing" and not _bounds(ctx):  # a union of plain types: one message for the field, not one per member
        return Problem(path, f"is not a value this field takes {got}", allowed=kinds)
    if kind == "extra_forbidden":
        _, parent, _ = _walk(tuple(error["loc"])[:-1])
        keys = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        return Problem(path, "unknown key", allowed=", ".join(keys),
                       hint=f"did you mean {close[0]!r}?" if close else "")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip(" '")]
        close = difflib.get_close_matches(str(ctx.get("tag", "")), tags, n=1) if kind == "union_tag_invalid" else []
        discriminator = str(ctx.get("discriminator", "kind")).strip("'")
        message = f"is not a known {discriminator}" if kind == "union_tag_invalid" else "required key is missing"
        return Problem(join_path(path, discriminator), message, allowed=", ".join(tags),
                       hint=f"did you mean {close[0]!r}?" if close else "")
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        return Problem(path, f"{_MESSAGES[kind]} {got}",
                       allowed=PATTERN_DESCRIPTIONS.get(pattern, f"the pattern {pattern}"))
    if kind in ("enum", "literal_error"):
        return Problem(path, f"{_MESSAGES[kind]} {got}", allowed=str(ctx.get("expected", "")))
    if kind == "missing":
        return Problem(path, _MESSAGES[kind])
    if kind in _MESSAGES:
        return Problem(path, f"{_MESSAGES[kind]} {got}", allowed=_TYPE_ALLOWED.get(kind, ""))
    bounds = _bounds(ctx)
    if bounds:
        return Problem(path, f"is out of range {got}", allowed=bounds)
    # Our own validators raise ValueError with wording that describes the rule (and `; allowed: ...`), never the value.
    message, _, rule = error["msg"].removeprefix("Value error, ").partition("; allowed: ")
    return Problem(path, f"{message} {got}", allowed=rule)


def validation_problems(exc: ValidationError) -> list[Problem]:
    """Translate pydantic's errors into dotted-path problems, one per bad field."""
    problems, seen = [], set()
    for error in exc.errors(include_url=False, include_input=True):
        problem = _problem(error)
        if problem.path not in seen:
            seen.add(problem.path)
            problems.append(problem)
    return problems
