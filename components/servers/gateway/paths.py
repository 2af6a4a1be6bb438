"""One canonical form of a request target: every route decision uses it, and it is what gets forwarded.

Runtimes decode the path before routing (Go's net/http, uvicorn, cpp-httplib and aiohttp all
percent-decode once); some clean it (Go's ServeMux redirects to the cleaned path) and some do
not. The canonical form is the path decoded once, with dot segments and repeated slashes
resolved, made only of characters that no router decodes or treats specially. Forwarding that
form means the runtime routes exactly the path the gateway checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':' and '@'.
_PCHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@")
_HEX = frozenset("0123456789abcdefABCDEF")
_ABSOLUTE_FORM = re.compile(r"(?i)https?://[^/?#]+")
# Already canonical: slash-separated non-empty segments of pchar that do not start with '.'.
_PLAIN = re.compile(r"(?:/[A-Za-z0-9\-_~!$&'()*+,;=:@][A-Za-z0-9\-._~!$&'()*+,;=:@]*)*/?")
_QUERY = re.compile(r"[\x21-\x7e]*")


class InvalidTarget(ValueError):
    """A request target the gateway refuses to interpret; the reason never quotes the target."""


@dataclass(frozen=True, slots=True)
class Target:
    """The canonical path and the query string (without '?'), as they are forwarded."""

    path: str
    query: str

    @property
    def forwarded(self) -> str:
        """Path and query as sent to the runtime."""
        return f"{self.path}?{self.query}" if self.query else self.path


def _decode_once(path: str) -> str:
    """Percent-decode once; refuse bad escapes, encoded '/' and '%', and anything outside pchar."""
    out: list[str] = []
    i, end = 0, len(path)
    while i < end:
        char = path[i]
        if char == "%":
            pair = path[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise InvalidTarget("malformed percent-escape in the path")
            char = chr(int(pair, 16))
            if char in "/%":
                raise InvalidTarget("encoded '/' or '%' in the path")
            i += 3
        else:
            i += 1
        if char not in _PCHAR and char != "/":
            raise InvalidTarget("character not allowed in a path")
        out.append(char)
    return "".join(out)


def _resolve(path: str) -> str:
    """Drop empty and '.' segments and apply '..' (never above the root); keep a trailing slash."""
    stack: list[str] = []
    segments = path.split("/")
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if stack:
                stack.pop()
            continue
        stack.append(segment)
    trailing = segments[-1] in ("", ".", "..") and bool(stack)
    return "/" + "/".join(stack) + ("/" if trailing else "")


def canonical_target(raw: str) -> Target:
    """The canonical Target for a raw request-target (origin-form or absolute-form)."""
    if not raw.startswith("/"):
        authority = _ABSOLUTE_FORM.match(raw)
        if authority is None:
            raise InvalidTarget("the request target must be a path")
        raw = raw[authority.end() :] or "/"
        if not raw.startswith(("/", "?")):
            raise InvalidTarget("the request target must be a path")
        if raw.startswith("?"):
            raw = "/" + raw
    if "#" in raw:
        raise InvalidTarget("a fragment is not allowed in a request target")
    path, _, query = raw.partition("?")
    if not _QUERY.fullmatch(query):
        raise InvalidTarget("character not allowed in the query")
    if _PLAIN.fullmatch(path):
        return Target(path, query)
    return Target(_resolve(_decode_once(path)), query)
