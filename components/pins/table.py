"""Read the pins file and rewrite its digests in place, keeping sources, comments and layout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from slm_deploy.errors import SlmDeployError
from slm_deploy.image_reference import DIGEST, SHA256_DIGEST
from slm_deploy.spec.yaml_source import load_shipped

_KEY_LINE = re.compile(r"^  (?P<key>[A-Za-z0-9._-]+):\s*(#.*)?$")
_DIGEST_LINE = re.compile(rf"^(?P<indent>    )digest:(?P<space>\s*)(?P<digest>{DIGEST})(?P<rest>\s*(#.*)?)$")


class PinsFileError(SlmDeployError):
    """The pins file cannot be read as a pins table."""


@dataclass(frozen=True)
class PinRow:
    """One pinned image: where it lives, the tag people read and the digest that is trusted."""

    key: str
    image: str
    tag: str
    digest: str
    sources: tuple[str, ...] = ()
    """Public records that show the digest."""


def read_pins(path: Path) -> list[PinRow]:
    """Parse the table, naming the entry and field of the first problem."""
    try:
        document = load_shipped(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise PinsFileError(f"{path}: cannot read the pins file ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise PinsFileError(f"{path}: not valid YAML ({error.__class__.__name__})") from error
    pins = document.get("pins") if isinstance(document, dict) else None
    if not isinstance(pins, dict) or not pins:
        raise PinsFileError(f"{path}: expected a mapping `pins:` of key -> {{image, tag, digest, sources}}")
    rows = []
    for key, row in pins.items():
        if not isinstance(row, dict):
            raise PinsFileError(f"{path}: pins.{key} must be a mapping with image, tag and digest")
        for field in ("image", "tag", "digest"):
            if not isinstance(row.get(field), str) or not row[field]:
                raise PinsFileError(f"{path}: pins.{key}.{field} must be a non-empty string")
        if not SHA256_DIGEST.match(row["digest"]):
            raise PinsFileError(f"{path}: pins.{key}.digest must be sha256:<64 lowercase hex>")
        rows.append(PinRow(str(key), row["image"], row["tag"], row["digest"], tuple(row.get("sources") or ())))
    return rows


def rewrite_digests(text: str, new_digests: dict[str, str]) -> str:
    """Replace the digest line of each named entry; every other byte of the file stays as it was."""
    lines = text.splitlines(keepends=True)
    current: str | None = None
    replaced: set[str] = set()
    for index, line in enumerate(lines):
        key_match = _KEY_LINE.match(line.rstrip("\n"))
        if key_match:
            current = key_match["key"]
            continue
        digest_match = _DIGEST_LINE.match(line.rstrip("\n"))
        if digest_match and current in new_digests:
            ending = line[len(line.rstrip("\n")):]
            lines[index] = (f"{digest_match['indent']}digest:{digest_match['space']}{new_digests[current]}"
                            f"{digest_match['rest']}{ending}")
            replaced.add(current)
    missing = sorted(set(new_digests) - replaced)
    if missing:
        raise PinsFileError(f"no `digest:` line found for {', '.join(missing)}; the file's layout is not the pins layout")
    return "".join(lines)
