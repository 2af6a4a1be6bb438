"""How a Go server (Ollama) routes a raw request target, emulated from the sources it builds with.

No Go toolchain runs here, so this follows the code path line by line:
- net/http readRequest -> net/url ParseRequestURI: parse(rawURL, viaRequest=true), getScheme,
  setPath (unescape with encodePath, RawPath kept when it differs from escape(Path));
- net/http ServeMux.findHandler (Go 1.22 and later; Ollama 0.24 builds with Go 1.26): the
  escaped path is cleaned with cleanPath and, if cleaning changed it, the client is redirected
  (301) instead of routed;
- ollama server/routes.go: http.Handle("/", registry.Local{Fallback: gin}); Local.serveHTTP
  switches on r.URL.Path for /api/delete and /api/pull before gin sees the request;
- gin v1.10.0 handleHTTPRequest with the defaults (UseRawPath false, RemoveExtraSlash false,
  RedirectFixedPath false): the method's tree is searched for r.URL.Path; a miss is a 404,
  405 or trailing-slash redirect, never a route.

Strings hold bytes as latin-1 characters, as Go strings hold bytes.
"""

from __future__ import annotations

_HEX = "0123456789abcdefABCDEF"
_UNRESERVED_MARKS = "-_.~"
_PATH_RESERVED_OK = "$&+,/:;=@"  # shouldEscape(c, encodePath) is false for these ('?' is escaped)
_VALID_ENCODED_EXTRA = "!$&'()*+,;=:@[]%"


class GoBadRequest(ValueError):
    """net/http answers 400 before any handler runs."""


def _should_escape_path(c: str) -> bool:
    if c.isascii() and c.isalnum() or c in _UNRESERVED_MARKS:
        return False
    if c in _PATH_RESERVED_OK or c == "?":
        return c == "?"
    return True


def _unescape_path(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "%":
            if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise GoBadRequest("invalid URL escape")
            out.append(chr(int(s[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _escape_path(s: str) -> str:
    return "".join(f"%{ord(c):02X}" if _should_escape_path(c) else c for c in s)


def _valid_encoded(s: str) -> bool:
    return all(c in _VALID_ENCODED_EXTRA or not _should_escape_path(c) for c in s)


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and c.isdigit() or c in "+-.":
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise GoBadRequest("missing protocol scheme")
            return raw[:i].lower(), raw[i + 1 :]
        return "", raw
    return "", raw


def parse_request_uri(raw: str) -> tuple[str, str]:
    """(URL.Path, URL.RawPath) as url.ParseRequestURI leaves them; raises GoBadRequest for a 400."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise GoBadRequest("invalid control character in URL")
    if raw == "":
        raise GoBadRequest("empty url")
    if raw == "*":
        return "*", ""
    scheme, rest = _get_scheme(raw)
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        if scheme:
            return "", ""  # opaque URL: no path at all
        raise GoBadRequest("invalid URI for request")
    if scheme and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        if not all(c.isascii() and (c.isalnum() or c in ".-:[]") for c in authority):
            raise GoBadRequest("invalid host")
        rest = slash + tail
    path = _unescape_path(rest)
    return path, ("" if _escape_path(path) == rest else rest)


def _escaped_path(path: str, raw_path: str) -> str:
    if raw_path and _valid_encoded(raw_path):
        try:
            if _unescape_path(raw_path) == path:
                return raw_path
        except GoBadRequest:
            pass
    if path == "*":
        return "*"
    return _escape_path(path)


def _path_clean(p: str) -> str:
    """Go's path.Clean for a rooted path."""
    parts: list[str] = []
    for segment in p.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    return "/" + "/".join(parts)


def clean_path(p: str) -> str:
    """net/http cleanPath: path.Clean, keeping a trailing slash."""
    if p == "":
        return "/"
    if p[0] != "/":
        p = "/" + p
    cleaned = _path_clean(p)
    if p.endswith("/") and cleaned != "/":
        cleaned = p if len(p) == len(cleaned) + 1 and p.startswith(cleaned) else cleaned + "/"
    return cleaned


def _segments_match(want: list[str], got: list[str]) -> bool:
    return all((w.startswith("{") and g != "") or w == g for w, g in zip(want, got))


def _gin_match(pattern: str, path: str) -> bool:
    """A gin tree hit: ':name' is one non-empty segment; a trailing '*name' (here '{name:path}') the rest."""
    want, got = pattern.split("/")[1:], path.split("/")[1:]
    if want[-1].endswith(":path}"):
        head = want[:-1]
        return len(got) > len(head) and _segments_match(head, got[: len(head)]) and any(got[len(head) :])
    return len(want) == len(got) and _segments_match(want, got)


def route(universe: tuple[tuple[str, str], ...], registry_paths: tuple[str, ...], method: str, raw: str) -> str | None:
    """The pattern a request reaches, or None (400, redirect, 404 or 405)."""
    try:
        path, raw_path = parse_request_uri(raw)
    except GoBadRequest:
        return None
    escaped = _escaped_path(path, raw_path)
    if clean_path(escaped) != escaped:
        return None  # ServeMux redirects to the cleaned path
    if path in registry_paths:
        return path
    for route_method, pattern in universe:
        if route_method == method and _gin_match(pattern, path):
            return pattern
    return None
