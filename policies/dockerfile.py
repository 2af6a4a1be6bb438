"""A small Dockerfile parser: instructions with flags, exec vs shell form, continuations, heredocs, stages.

The result is a plain Mapping (`{"kind": "Dockerfile", "stages": [...], "instructions": [...]}`), so
Dockerfile rules read it exactly the way Kubernetes and Compose rules read their manifests.
"""

from __future__ import annotations

import json
import re
from typing import Any

FLAGGED = frozenset({"FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"})
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")
HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?$")


def _directives(lines: list[str]) -> tuple[str, int]:
    """Read parser directives at the top; returns the escape character and the first body line."""
    escape = "\\"
    index = 0
    while index < len(lines):
        match = DIRECTIVE.match(lines[index].strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
        index += 1
    return escape, index


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """Join continuations, drop comments and blank lines, keep heredoc bodies; (start, end, text)."""
    lines = text.splitlines()
    escape, index = _directives(lines)
    out: list[tuple[int, int, str]] = []
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        parts: list[str] = []
        current = raw
        while True:
            body = current.rstrip()
            if body.endswith(escape) and index + 1 < len(lines):
                parts.append(body[:-1])
                index += 1
                # comment lines inside a continuation are dropped, blank ones skipped
                while index < len(lines) and (lines[index].strip().startswith("#") or not lines[index].strip()):
                    index += 1
                if index >= len(lines):
                    break
                current = lines[index]
                continue
            parts.append(body)
            break
        logical = " ".join(p.strip() for p in parts if p.strip())
        for match in HEREDOC.finditer(logical):
            terminator = match.group(3)
            strip_tabs = match.group(1) == "-"
            body_lines: list[str] = []
            index += 1
            while index < len(lines):
                candidate = lines[index].lstrip("\t") if strip_tabs else lines[index]
                if candidate.strip() == terminator:
                    break
                body_lines.append(lines[index])
                index += 1
            logical = logical + "\n" + "\n".join(body_lines)
        out.append((start + 1, index + 1, logical))
        index += 1
    return out


def _split_flags(rest: str) -> tuple[dict[str, list[str]], str]:
    """Peel leading `--name=value` flags off an instruction's arguments."""
    flags: dict[str, list[str]] = {}
    remaining = rest
    while remaining.startswith("--"):
        word, _, tail = remaining.partition(" ")
        match = FLAG.match(word)
        if not match:
            break
        flags.setdefault(match.group(1).lower(), []).append(match.group(2) if match.group(2) is not None else "")
        remaining = tail.lstrip()
    return flags, remaining


def _exec_form(value: str) -> list[str] | None:
    """The argument list when written in JSON (exec) form, else None (shell form)."""
    text = value.strip()
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
        return parsed
    return None


def _instruction(start: int, end: int, text: str) -> dict[str, Any]:
    """One instruction as a plain mapping."""
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    rest = rest.strip()
    flags: dict[str, list[str]] = {}
    if keyword in FLAGGED:
        flags, rest = _split_flags(rest)
    entry: dict[str, Any] = {"instruction": keyword, "flags": flags, "value": rest,
                             "json": _exec_form(rest), "line": start, "endLine": end}
    if keyword == "HEALTHCHECK":
        sub, _, tail = rest.partition(" ")
        entry["subcommand"] = sub.upper()
        entry["json"] = _exec_form(tail) if sub.upper() == "CMD" else None
    return entry


def _from_fields(entry: dict[str, Any]) -> tuple[str, str | None]:
    """Image reference and optional stage alias of a FROM line."""
    words = entry["value"].split()
    image = words[0] if words else ""
    alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return image, alias


def parse_dockerfile(text: str) -> dict[str, Any]:
    """Parse Dockerfile text into {"kind": "Dockerfile", "stages": [...], "instructions": [...]}."""
    instructions: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    for start, end, logical in _logical_lines(text):
        entry = _instruction(start, end, logical)
        if entry["instruction"] == "FROM":
            image, alias = _from_fields(entry)
            stages.append({"index": len(stages), "image": image, "alias": alias, "line": start,
                           "platform": (entry["flags"].get("platform") or [None])[0], "instructions": []})
        entry["stage"] = len(stages) - 1
        instructions.append(entry)
        if stages:
            stages[-1]["instructions"].append(entry)
    return {"kind": "Dockerfile", "stages": stages, "instructions": instructions}
