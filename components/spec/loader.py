"""Load a spec from a Pulumi stack file or a bare YAML file, validated once at the edge."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from slm_deploy.errors import Problem, SpecError, value_kind
from slm_deploy.spec.consistency import consistency_problems, with_default_secrets
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.flag_combinations import combination_problems
from slm_deploy.spec.problems import validation_problems
from slm_deploy.spec.redact import redacted
from slm_deploy.spec.resolve import ResolvedModel, resolve_model
from slm_deploy.spec.sizing import Sizing, size
from slm_deploy.spec.yaml_source import join_path, parse_yaml, plain, read_text

STACK_KEY = "slm-deploy:deployment"


@dataclass(frozen=True)
class Deployment:
    """A validated, resolved and sized spec: everything after this point trusts its types."""

    spec: DeploymentSpec
    model: ResolvedModel
    sizing: Sizing
    spec_hash: str
    locate: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    """file:line of a field path, when the spec came from a file."""
    source: Any = field(default=None, compare=False, repr=False)
    """The mapping the spec was read from, to print paths without the keys the user chose."""

    def error(self, problems: list[Problem]) -> SpecError:
        """A SpecError for problems found after loading, pointing at the spec's lines like the loader's."""
        error = SpecError(problems)
        error = error.located(self.locate) if self.locate else error
        return SpecError(redacted(error.problems, self.source))


def extract_deployment(document: Any) -> tuple[Any, str]:
    """Find the deployment in a stack file (config: slm-deploy:deployment) or take a bare spec; also
    return the path it was found under, so errors can point at its lines."""
    if isinstance(document, dict):
        config = document.get("config")
        if isinstance(config, dict) and STACK_KEY in config:
            value = config[STACK_KEY]
            if isinstance(value, dict) and set(value) == {"value"}:
                return value["value"], f"config.{STACK_KEY}.value"
            if isinstance(value, dict) and set(value) == {"secure"}:
                raise SpecError(Problem(f"config.{STACK_KEY}", "is an encrypted (secure) Pulumi value, which "
                                        "slm-deploy cannot read",
                                        allowed="the deployment as plain YAML under this key",
                                        hint="keep secret values out of the spec: declare them under `secrets`, "
                                             "which names where each is kept"))
            return value, f"config.{STACK_KEY}"
        if STACK_KEY in document:
            return document[STACK_KEY], STACK_KEY
    return document, ""


def parse_deployment(data: Any) -> Deployment:
    """Validate, cross-check, resolve and size a deployment mapping; errors never print a key the user chose."""
    try:
        return replace(_parse(data), source=data)
    except SpecError as exc:
        raise SpecError(redacted(exc.problems, data)) from None


def _parse(data: Any) -> Deployment:
    """Validate, cross-check, resolve and size a deployment mapping, with the types the schema publishes."""
    if not isinstance(data, dict):
        raise SpecError(Problem("<spec>", f"expected a mapping, got {value_kind(data)}",
                                hint=f"a bare spec, or a stack file with config: {STACK_KEY}: ..."))
    broken = _lone_surrogate(data, "")
    if broken is not None:
        raise SpecError(Problem(broken or "<spec>", "holds an escape that is not a Unicode character (a lone "
                                "surrogate such as \\ud800)", allowed="text of Unicode characters; write a "
                                "character outside the basic plane as one \\U escape"))
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        raise SpecError(Problem("<spec>", "holds values other than strings, numbers, booleans, mappings and lists",
                                allowed="plain YAML: no tags, dates or binary values")) from None
    try:
        # JSON mode with strict types: exactly what the published schema allows ("2" is not an integer).
        spec = with_default_secrets(DeploymentSpec.model_validate_json(text, strict=True))
    except ValidationError as exc:
        raise SpecError(validation_problems(exc)) from None
    problems = consistency_problems(spec)
    if problems:
        raise SpecError(problems)
    model = resolve_model(spec)
    sizing = size(spec, model)
    problems = combination_problems(spec, model, sizing) + _aks_pool_problems(spec, sizing)
    if problems:
        raise SpecError(problems)
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return Deployment(spec, model, sizing, hashlib.sha256(canonical.encode()).hexdigest())


def _aks_pool_problems(spec: DeploymentSpec, sizing: Sizing) -> list[Problem]:
    """Whether the pods fit the node pools of the AKS cluster the spec creates; the Azure VM size tables are
    loaded only for a spec with an AKS target."""
    if spec.targets.aks is None:
        return []
    from slm_deploy.spec.aks_pools import aks_pool_problems  # noqa: PLC0415

    return aks_pool_problems(spec, sizing)


def _lone_surrogate(node: Any, path: str) -> str | None:
    """The path of the first string (or the mapping holding the first key) that UTF-8 cannot encode."""
    if isinstance(node, str):
        return None if node.isascii() or _encodes(node) else path
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and not _encodes(key):
                return path
            found = _lone_surrogate(value, join_path(path, key))
            if found is not None:
                return found
    if isinstance(node, list):
        for index, value in enumerate(node):
            found = _lone_surrogate(value, join_path(path, index))
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_deployment(path: Path) -> Deployment:
    """Load a stack file or bare spec from disk; every problem names its file and line."""
    return load_deployment_text(read_text(path), str(path))


def load_deployment_text(text: str, source: str) -> Deployment:
    """Load a stack file's or bare spec's text; every problem names `source` and the line."""
    raw = parse_yaml(text, source)
    try:
        document = plain(raw, source)
    except SpecError as exc:
        raise SpecError(redacted(exc.problems, raw)) from None
    def line_of(path: str) -> str:
        line = document.line_of(path)
        return f"{source}:{line}" if line else source

    try:
        data, prefix = extract_deployment(document.data)
    except SpecError as exc:
        raise exc.located(line_of) from None

    def location(field: str) -> str:
        return line_of(join_path(prefix, field) if prefix and field else (prefix or field))

    try:
        return replace(_parse(data), locate=location, source=data)
    except SpecError as exc:
        raise SpecError(redacted(exc.located(location).problems, data)) from None
