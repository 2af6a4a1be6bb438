"""API keys from a mounted secret file: parsed, hashed, compared in constant time, reloaded on change.

Two rules keep keys out of logs and metric labels even when the file is written wrongly: a key
id is at most 31 characters and a key at least 32, and a line holds exactly one ':'. A line
written the wrong way round (`key:id`) therefore never parses, and errors name only the line
number, never what is on it.
"""

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

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}")
# Visible ASCII except ':': what fits in an HTTP header as a bearer token.
KEY_PATTERN = re.compile(r"[\x21-\x39\x3b-\x7e]+")
MIN_KEY_LENGTH = 32
MAX_KEY_FILE_BYTES = 1 << 20
# A changed file is loaded only once it has stayed unchanged this long (in-place edits settle).
SETTLE_SECONDS = 0.5


class KeyFileError(SlmDeployError):
    """The key file cannot be used; names the line, never anything written on it."""


class KeyFileChanging(KeyFileError):
    """The file changed while it was read: not an error, it is read again once it settles."""


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


def _parse_line(number: int, line: str) -> tuple[str, str]:
    if number == 1 and line.startswith("\ufeff"):
        raise KeyFileError("key file line 1: starts with a byte-order mark; save the file as UTF-8 without BOM")
    if line.count(":") != 1:
        raise KeyFileError(f"key file line {number}: expected 'key_id:key' with exactly one ':'")
    key_id, _, key = (part.strip() for part in line.partition(":"))
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyFileError(
            f"key file line {number}: the key id must be 1-31 letters, digits, '_', '.' or '-' "
            "(is the line written as key:id?)"
        )
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        raise KeyFileError(f"key file line {number}: the key is wrapped in quotes; write it bare")
    if not KEY_PATTERN.fullmatch(key) or len(key) < MIN_KEY_LENGTH:
        raise KeyFileError(
            f"key file line {number}: the key must be at least {MIN_KEY_LENGTH} visible ASCII characters "
            "without spaces or ':'"
        )
    return key_id, key


def parse_key_file(text: str) -> KeySet:
    """Parse `key_id:key` lines; '#' starts a comment line, blank lines are ignored; at least one key."""
    entries: list[tuple[bytes, str]] = []
    first_line: dict[str, int] = {}
    digests: dict[bytes, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, key = _parse_line(number, line)
        if key_id in first_line:
            raise KeyFileError(f"key file line {number}: the key id of line {first_line[key_id]} is used again")
        digest = hashlib.sha256(key.encode("ascii")).digest()
        if digest in digests:
            raise KeyFileError(f"key file line {number}: the key of line {digests[digest]} is listed again")
        first_line[key_id] = number
        digests[digest] = number
        entries.append((digest, key_id))
    if not entries:
        raise KeyFileError("key file: no keys (a file being rewritten in place reads empty; nothing is loaded)")
    return KeySet(tuple(entries))


# A token as it may stand in an Authorization header: visible ASCII, no spaces (':' is allowed here).
UPSTREAM_KEY_PATTERN = re.compile(r"[\x21-\x7e]+")


def parse_upstream_key(data: bytes) -> str:
    """The one key the gateway presents to the runtime, refused unless it can stand in a header line as it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("upstream key file: not UTF-8 text") from None
    key = ""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if key:
            raise KeyFileError(f"upstream key file line {number}: the file holds one key on one line")
        if not UPSTREAM_KEY_PATTERN.fullmatch(line):
            raise KeyFileError(f"upstream key file line {number}: the key must be visible ASCII without spaces")
        key = line
    if not key:
        raise KeyFileError("upstream key file: no key")
    return key


Signature = bytes
"""The SHA-256 of the file's content: any edit changes it, whatever happens to its size or mtime."""
MISSING: Signature = b""

StatStamp = tuple[int, int, int, int]


def _stamp(st: os.stat_result) -> StatStamp:
    """What changes while a read overlaps an in-place edit or a Kubernetes secret swap."""
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def read_key_bytes(path: str) -> tuple[bytes, Signature]:
    """The file's content and its digest, refusing a read that overlapped a change (checked after reading)."""
    before = _stamp(os.stat(path))
    with open(path, "rb") as handle:
        opened = _stamp(os.fstat(handle.fileno()))
        data = handle.read(MAX_KEY_FILE_BYTES + 1)
    after = _stamp(os.stat(path))
    if not before == opened == after or len(data) != opened[3]:
        raise KeyFileChanging("key file: changed while it was read")
    return data, hashlib.sha256(data).digest()


def parse_key_bytes(data: bytes) -> KeySet:
    """Decode and parse the file's content."""
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"key file: larger than {MAX_KEY_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("key file: not UTF-8 text") from None
    return parse_key_file(text)


def read_key_file(path: str) -> tuple[KeySet, Signature]:
    """Read and parse the file; the digest says which content is in force."""
    data, signature = read_key_bytes(path)
    return parse_key_bytes(data), signature


def _read_at_start(path: str, attempts: int = 20) -> tuple[KeySet, Signature]:
    """The first read, retried briefly while the file is being written."""
    for _ in range(attempts - 1):
        try:
            return read_key_file(path)
        except KeyFileChanging:
            time.sleep(SETTLE_SECONDS / 10)
    return read_key_file(path)


class KeyStore:
    """The current key set; looks at the file at most once per interval and loads it once it has settled."""

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
        self._keys, self._loaded = _read_at_start(path)
        self._rejected: Signature | None = None
        self._candidate: Signature | None = None
        self._candidate_since = 0.0
        self._checked_at = clock()
        self._on_reload("loaded", self._keys)

    @property
    def keys(self) -> KeySet:
        """The key set in force now, after picking up any settled change to the file."""
        now = self._clock()
        if now - self._checked_at >= self._interval:
            self._checked_at = now
            self._refresh(now)
        return self._keys

    def _refresh(self, now: float) -> None:
        """Load content that differs from what is in force once it has stayed the same for SETTLE_SECONDS."""
        try:
            data, signature = read_key_bytes(self._path)
        except KeyFileChanging:
            self._candidate = None
            return
        except OSError as exc:
            self._reject(MISSING, type(exc).__name__)
            return
        if signature in (self._loaded, self._rejected):
            self._candidate = None
            return
        if signature != self._candidate:
            self._candidate, self._candidate_since = signature, now
        if now - self._candidate_since < SETTLE_SECONDS:
            return
        try:
            keys = parse_key_bytes(data)
        except KeyFileError as exc:
            self._reject(signature, str(exc))
            return
        self._keys, self._loaded, self._rejected, self._candidate = keys, signature, None, None
        log.info("key file reloaded: %d keys (ids: %s)", len(keys.entries), ", ".join(keys.key_ids))
        self._on_reload("loaded", keys)

    def _reject(self, signature: Signature, reason: str) -> None:
        """Keep the keys in force; report a bad version once, not at every interval."""
        if signature == self._rejected:
            return
        self._rejected = signature
        self._candidate = None
        log.error("key file not reloaded, keeping the previous %d keys: %s", len(self._keys.entries), reason)
        self._on_reload("error", None)
