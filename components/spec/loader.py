"""Load a spec from a Pulumi stack file or a bare YAML file, validated once at the edge."""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from slm_deploy.errors import Problem, SpecError
from slm_deploy.spec.consistency import consistency_problems
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.fields import PATTERN_DESCRIPTIONS
from slm_deploy.spec.resolve import ResolvedModel, resolve_model
from slm_deploy.spec.sizing import Sizing, size

STACK_KEY = "slm-deploy:deployment"


@dataclass(frozen=True)
class Deployment:
    """A validated, resolved and sized spec: everything after this point trusts its types."""

    spec: DeploymentSpec
    model: ResolvedModel
    sizing: Sizing
    spec_hash: str


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Problem(str(path), "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Problem(str(path), f"cannot read: {exc.__class__.__name__}")) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SpecError(Problem(where, f"malformed YAML: {problem}", hint="check indentation and quoting")) from None


def extract_deployment(document: Any) -> Any:
    """Find the deployment in a stack file (config: slm-deploy:deployment) or take a bare spec."""
    if isinstance(document, dict):
        config = document.get("config")
        if isinstance(config, dict) and STACK_KEY in config:
            value = config[STACK_KEY]
            return value.get("value", value) if isinstance(value, dict) and set(value) == {"value"} else value
        if STACK_KEY in document:
            return document[STACK_KEY]
    return document


def _unwrap(annotation: Any) -> list[Any]:
    """The member types of Optional/Union/Annotated annotations."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    return [annotation]


def _walk(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """Follow an error location through the spec's types: the path as the user wrote it, and the
    model that holds the last step (union tags such as runtime.<kind> are pydantic's, not the user's)."""
    current: Any = DeploymentSpec
    user_loc: list[Any] = []
    for step in loc:
        members = _unwrap(current)
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        containers = [m for m in members if typing.get_origin(m) in (dict, list)]
        if len(models) > 1:
            tagged = [m for m in models if "kind" in m.model_fields
                      and step in typing.get_args(m.model_fields["kind"].annotation)]
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
    return tuple(user_loc), (models[0] if len(models) == 1 else None)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _kind(value: Any) -> str:
    """Describe a value by its type only, so a pasted secret never reaches the terminal."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _problem(error: dict[str, Any]) -> Problem:
    loc, _ = _walk(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        _, parent = _walk(tuple(error["loc"])[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return Problem(_path(loc), "unknown key", allowed=", ".join(allowed),
                       hint=f"did you mean {close[0]!r}?" if close else "")
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "")
        tags = [t.strip(" '") for t in str(expected).split(",")]
        close = difflib.get_close_matches(str(ctx.get("tag", "")), tags, n=1)
        return Problem(_path(loc) + ".kind", f"unknown {ctx.get('discriminator', 'kind').strip(chr(39))} "
                       f"{ctx.get('tag')!r}", allowed=", ".join(tags),
                       hint=f"did you mean {close[0]!r}?" if close else "")
    if kind == "union_tag_not_found":
        return Problem(_path(loc) + ".kind", "missing", allowed="a kind tag; see `slm-deploy schema`")
    if kind == "missing":
        return Problem(_path(loc), "required key is missing")
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        return Problem(_path(loc), f"{_kind(error.get('input'))} that is not in the allowed form",
                       allowed=PATTERN_DESCRIPTIONS.get(pattern, f"the pattern {pattern}"))
    message = error["msg"].removeprefix("Value error, ")
    expected = ""
    if kind == "enum" or kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        message = "is not one of the allowed values"
    return Problem(_path(loc), f"{message} (got {_kind(error.get('input'))})", allowed=expected)


def validation_problems(exc: ValidationError) -> list[Problem]:
    """Translate pydantic's errors into dotted-path problems, one per bad field."""
    errors = exc.errors(include_url=False)
    problems, seen = [], set()
    for error in errors:
        problem = _problem(error)
        if problem.path not in seen:
            seen.add(problem.path)
            problems.append(problem)
    return problems


def parse_deployment(data: Any) -> Deployment:
    """Validate, cross-check, resolve and size a deployment mapping."""
    if not isinstance(data, dict):
        raise SpecError(Problem("<spec>", f"expected a mapping, got {_kind(data)}",
                                hint=f"a bare spec, or a stack file with config: {STACK_KEY}: ..."))
    try:
        spec = DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_problems(exc)) from None
    problems = consistency_problems(spec)
    if problems:
        raise SpecError(problems)
    model = resolve_model(spec)
    sizing = size(spec, model)
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return Deployment(spec, model, sizing, hashlib.sha256(canonical.encode()).hexdigest())


def load_deployment(path: Path) -> Deployment:
    """Load a stack file or bare spec from disk."""
    return parse_deployment(extract_deployment(_read_yaml(path)))
