"""Which headers cross the gateway: hop-by-hop ones never do, and runtime responses only through an allow-list."""

from __future__ import annotations

from typing import Iterable

from multidict import MultiMapping

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
     "trailers", "transfer-encoding", "upgrade"}
)
# Never forwarded upstream: the client's gateway key and cookies, forwarding claims the gateway
# cannot vouch for, and values the HTTP client sets itself.
REQUEST_DROP = HOP_BY_HOP | {
    "host", "authorization", "cookie", "content-length", "accept-encoding", "expect", "forwarded", "x-real-ip",
}
REQUEST_DROP_PREFIXES = ("x-forwarded-",)
# The runtime's response headers a client may see; Server, Set-Cookie, Location, CORS and the
# rest describe the runtime, not the API.
RESPONSE_ALLOW = frozenset(
    {"content-type", "content-length", "content-encoding", "cache-control", "retry-after", "x-request-id"}
)


def header_tokens(headers: MultiMapping[str], name: str) -> list[str]:
    """Every comma-separated token of every field with this name, lower-cased: a repeated field is one list."""
    return [token.strip().lower() for value in headers.getall(name, ()) for token in value.split(",")]


def connection_named(headers: MultiMapping[str]) -> frozenset[str]:
    """Header names a `Connection:` header lists: hop-by-hop for this message only (RFC 9110 7.6.1)."""
    return frozenset(header_tokens(headers, "Connection"))


def upstream_request_headers(
    headers: MultiMapping[str], peer: str, scheme: str, upstream_auth: str
) -> list[tuple[str, str]]:
    """The client's end-to-end headers, plus forwarding headers the gateway itself vouches for."""
    named = connection_named(headers)
    forwarded = [
        (name, value) for name, value in headers.items()
        if (lowered := name.lower()) not in REQUEST_DROP and lowered not in named
        and not lowered.startswith(REQUEST_DROP_PREFIXES)
    ]
    forwarded += [("Accept-Encoding", "identity"), ("X-Forwarded-For", peer), ("X-Forwarded-Proto", scheme)]
    if upstream_auth:
        forwarded.append(("Authorization", upstream_auth))
    return forwarded


def client_response_headers(headers: MultiMapping[str], streaming: bool) -> Iterable[tuple[str, str]]:
    """The runtime's response headers that pass the allow-list (no length when the body is re-chunked)."""
    named = connection_named(headers)
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in RESPONSE_ALLOW and lowered not in named and not (streaming and lowered == "content-length"):
            yield name, value
