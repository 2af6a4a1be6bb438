"""The API key smoke and bench present, read from a file so it never sits in a shell history or `ps`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slm_deploy.errors import SlmDeployError

PREFERRED_KEY_ID = "smoke"
MIN_KEY_LENGTH = 16
MAX_FILE_BYTES = 64 * 1024


class KeyFileError(SlmDeployError):
    """The key file cannot be used; names the file and line, never the key."""


@dataclass(frozen=True)
class ApiKey:
    """A key and, when it came from a gateway key file, the id it is listed under."""

    value: str
    key_id: str | None

    def __repr__(self) -> str:
        return f"ApiKey(key_id={self.key_id!r})"


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.strip().startswith("#")]


def read_api_key(path: Path) -> ApiKey:
    """A bare key (one line), or the gateway's `key_id:key` file: the line with id `smoke`, else the first."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"--api-key-file {path}: cannot read it ({type(exc).__name__})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise KeyFileError(f"--api-key-file {path}: larger than {MAX_FILE_BYTES // 1024} KiB, not a key file")
    lines = _lines(text)
    if not lines:
        raise KeyFileError(f"--api-key-file {path}: holds no key\n"
                           "  allowed: one key alone, or the gateway's `key_id:key` lines")
    if len(lines) == 1 and ":" not in lines[0][1]:
        key = ApiKey(lines[0][1], None)
    else:
        entries = []
        for number, line in lines:
            key_id, sep, value = line.partition(":")
            if not sep or not key_id.strip() or not value.strip():
                raise KeyFileError(f"--api-key-file {path}: line {number} is not `key_id:key`")
            entries.append(ApiKey(value.strip(), key_id.strip()))
        key = next((e for e in entries if e.key_id == PREFERRED_KEY_ID), entries[0])
    if len(key.value) < MIN_KEY_LENGTH or any(c.isspace() or not c.isprintable() for c in key.value):
        raise KeyFileError(f"--api-key-file {path}: the key is shorter than {MIN_KEY_LENGTH} characters "
                           "or has spaces or control characters")
    return key
