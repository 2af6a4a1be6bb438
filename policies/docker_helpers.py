"""Views over a parsed Dockerfile that several rules share."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from slm_deploy.policies.access import get, items

COMMAND_SPLIT = re.compile(r"&&|\|\||;|\n|(?<!\|)\|(?!\|)")


def stages(dockerfile: Any) -> list[Mapping[str, Any]]:
    """All build stages in order."""
    return [s for s in items(get(dockerfile, "stages")) if isinstance(s, Mapping)]


def final_stage(dockerfile: Any) -> Mapping[str, Any] | None:
    """The stage that becomes the image (the last one)."""
    all_stages = stages(dockerfile)
    return all_stages[-1] if all_stages else None


def instructions(scope: Any, *names: str) -> list[Mapping[str, Any]]:
    """Instructions of a stage or the whole file, optionally only the named keywords."""
    wanted = {n.upper() for n in names}
    return [i for i in items(get(scope, "instructions"))
            if isinstance(i, Mapping) and (not wanted or str(i.get("instruction")) in wanted)]


def text_of(instruction: Mapping[str, Any]) -> str:
    """The command text of a RUN/CMD, joining exec form with spaces."""
    exec_form = instruction.get("json")
    if exec_form is not None and not isinstance(exec_form, str):
        return " ".join(str(x) for x in items(exec_form))
    return str(instruction.get("value") or "")


def commands(instruction: Mapping[str, Any]) -> list[list[str]]:
    """The simple commands of a RUN, each as a word list (split on &&, ||, ;, | and newlines)."""
    out = []
    for part in COMMAND_SPLIT.split(text_of(instruction)):
        words = part.split()
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]
        if words:
            out.append(words)
    return out


def flag_values(instruction: Mapping[str, Any], name: str) -> list[str]:
    """Values of one instruction flag such as --from or --mount."""
    flags = instruction.get("flags")
    if not isinstance(flags, Mapping):
        return []
    return [str(v) for v in items(flags.get(name))]


def env_pairs(instruction: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Name/value pairs of an ENV or ARG line (`A=1 B=2`, `A 1`, or a bare `ARG A`)."""
    value = str(instruction.get("value") or "").strip()
    if not value:
        return
    if "=" not in value.split()[0]:
        name, _, rest = value.partition(" ")
        yield name, rest.strip()
        return
    for token in re.findall(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\'[^\']*\'|\S*)', value):
        yield token[0], token[1].strip("\"'")


def stage_aliases(dockerfile: Any) -> list[str]:
    """Aliases of all stages, lower-cased (Docker treats them case-insensitively)."""
    return [str(s.get("alias")).lower() for s in stages(dockerfile) if s.get("alias")]
