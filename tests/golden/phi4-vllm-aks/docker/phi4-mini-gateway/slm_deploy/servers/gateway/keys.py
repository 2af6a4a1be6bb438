"""API keys from a mounted secret file: parsed, hashed, compared in constant time, reloaded on change."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Callable

from slm_deploy.errors import SlmDeployError

log = logging.getLogger("slm_gateway.keys")

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
# Visible ASCII only: what fits in an HTTP header as a bearer token.
KEY_PATTERN = re.compile(r"[\x21-\x7e]+")
MIN_KEY_LENGTH = 16


class KeyFileError(SlmDeployError):
    """The key file cannot be used; names the line, never the key on it."""


@dataclass(frozen=True)
class KeySet:
    """SHA-256 digests of the accepted keys with their ids; the keys themselves are not kept."""

    entries: tuple[tuple[bytes, str], ...]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids, for logs and metrics."""
        return tuple(key_id for _, key_id in self.entries)

    def identify(self, presented: str) -> str | None:
        """Return the id of the key presented, comparing against every key so timing reveals nothing."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        for stored, key_id in self.entries:
            if hmac.compare_digest(stored, digest):
                found = key_id
        return found


def parse_key_file(text: str) -> KeySet:
    """Parse `key_id:key` lines; '#' starts a comment line, blank lines are ignored."""
    entries: list[tuple[bytes, str]] = []
    seen_ids: set[str] = set()
    seen_digests: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, key = line.partition(":")
        key_id, key = key_id.strip(), key.strip()
        if not sep:
            raise KeyFileError(f"key file line {number}: expected 'key_id:key'")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise KeyFileError(
                f"key file line {number}: key id must be 1-63 characters of letters, digits, '_', '.', '-'"
            )
        if not KEY_PATTERN.fullmatch(key) or len(key) < MIN_KEY_LENGTH:
            raise KeyFileError(
                f"key file line {number} (id {key_id}): key must be at least {MIN_KEY_LENGTH} "
                "visible ASCII characters without spaces"
            )
        if key_id in seen_ids:
            raise KeyFileError(f"key file line {number}: key id {key_id} appears twice")
        digest = hashlib.sha256(key.encode("ascii")).digest()
        if digest in seen_digests:
            raise KeyFileError(f"key file line {number} (id {key_id}): the same key is listed under another id")
        seen_ids.add(key_id)
        seen_digests.add(digest)
        entries.append((digest, key_id))
    return KeySet(tuple(entries))


def _signature(path: str) -> tuple[int, int, int, int]:
    """What changes when the file is edited in place or swapped by a Kubernetes secret update."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class KeyStore:
    """The current key set; re-reads the file when it changes, at most once per interval."""

    def __init__(
        self,
        path: str,
        reload_interval: float,
        on_reload: Callable[[str, KeySet | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._interval = reload_interval
        self._on_reload = on_reload or (lambda result, keys: None)
        self._clock = clock
        self._signature: tuple[int, int, int, int] | None = _signature(path)
        self._keys = self._read()
        self._checked_at = clock()
        self._on_reload("loaded", self._keys)

    def _read(self) -> KeySet:
        with open(self._path, encoding="utf-8") as handle:
            return parse_key_file(handle.read())

    @property
    def keys(self) -> KeySet:
        """The key set in force now, after picking up any change to the file."""
        now = self._clock()
        if now - self._checked_at >= self._interval:
            self._checked_at = now
            self._refresh()
        return self._keys

    def _refresh(self) -> None:
        signature: tuple[int, int, int, int] | None = None
        try:
            signature = _signature(self._path)
            if signature == self._signature:
                return
            keys = self._read()
        except (OSError, UnicodeDecodeError, KeyFileError) as exc:
            # Remember the bad version so the error is reported once per change, not every interval.
            self._signature = signature
            reason = str(exc) if isinstance(exc, KeyFileError) else type(exc).__name__
            log.error("key file not reloaded, keeping the previous %d keys: %s", len(self._keys.entries), reason)
            self._on_reload("error", None)
            return
        self._signature = signature
        self._keys = keys
        log.info("key file reloaded: %d keys (ids: %s)", len(keys.entries), ", ".join(keys.key_ids))
        self._on_reload("loaded", keys)
