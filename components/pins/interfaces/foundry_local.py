"""Foundry Local's record, read from the CLI reference of the pinned release line.

The CLI ships as signed installers on GitHub releases, not through a package registry, so its interface is
read from the reference page Microsoft publishes for it (the Markdown source of learn.microsoft.com's
"Foundry Local CLI reference", which a maintainer saves from MicrosoftDocs/azure-ai-docs at a known commit).
Every `foundry ...` command line the reference documents becomes a command; every --option a flag.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from slm_deploy.pins.interfaces import RecordError

REFERENCE_PATH = "articles/foundry-local/reference/reference-cli.md"
COMMAND = re.compile(r"`(foundry(?: [a-z][a-z-]*)*)(?: [^`]*)?`")
INVOCATION = re.compile(r"`(foundry [^`]+)`")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
TABLE_OPTION = re.compile(r"^\|\s*`(--[a-z][a-z0-9-]*)")
CODE_LINE = re.compile(r"^\s*(foundry [^\n]+)$", re.MULTILINE)
MS_DATE = re.compile(r"^ms\.date:\s*(\S+)", re.MULTILINE)
SOURCES = (
    "https://github.com/microsoft/Foundry-Local/releases/tag/cli-preview-{version}",
    "https://learn.microsoft.com/azure/foundry-local/reference/reference-cli",
    "https://github.com/MicrosoftDocs/azure-ai-docs/blob/{commit}/" + REFERENCE_PATH,
)


def derive(version: str, reference: Path, docs_commit: str) -> dict:
    """The foundry-local record for CLI release <version>, from a saved copy of the CLI reference."""
    try:
        text = reference.read_text(encoding="utf-8")
    except OSError as error:
        raise RecordError(f"cannot read the Foundry Local CLI reference at {reference} ({error.strerror})") from error
    commands, flags = parse_reference(text)
    if "foundry server start" not in commands or "--port" not in flags:
        raise RecordError(f"{reference.name} does not document `foundry server start --port`; is it the CLI reference?")
    dated = MS_DATE.search(text)
    number = version.removeprefix("cli-preview-")
    return {
        "runtime": "foundry-local", "version": number, "pin": [],
        "artifact": (f"Foundry Local CLI reference, {REFERENCE_PATH} at MicrosoftDocs/azure-ai-docs@{docs_commit}"
                     f" (ms.date {dated.group(1) if dated else 'unknown'}; sha256 of the copy read "
                     f"{hashlib.sha256(text.encode()).hexdigest()}), for the cli-preview-{number} release line"),
        "derived_by": __name__,
        "sources": [s.format(version=number, commit=docs_commit) for s in SOURCES],
        "flags": sorted(flags),
        "env": [],
        "metrics": [],
        "endpoints": ["/v1/chat/completions", "/v1/models"] if "OpenAI-compatible" in text else [],
        "commands": sorted(commands),
    }


def parse_reference(text: str) -> tuple[set[str], set[str]]:
    """Commands (`foundry server start`) and options (`--port`) the reference documents."""
    invocations = INVOCATION.findall(text) + CODE_LINE.findall(text)
    commands = set()
    flags = set()
    for line in invocations:
        words = []
        for word in line.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        commands.add(" ".join(["foundry", *words]))
        flags |= set(OPTION.findall(line))
    for line in text.splitlines():
        match = TABLE_OPTION.match(line)
        if match:
            flags.add(match.group(1))
    return commands, flags
