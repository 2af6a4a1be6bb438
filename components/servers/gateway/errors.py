"""Error bodies in the OpenAI shape, so every client library shows them properly; none echoes the request."""

from __future__ import annotations

import json
import math
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from slm_deploy.servers.gateway.answers import SERVER_LINE, Reply

INVALID = "invalid_request_error"
SERVER = "server_error"

# code -> (status, OpenAI error type, message). Messages are fixed text: nothing from the request.
ERRORS: dict[str, tuple[int, str, str]] = {
    "missing_api_key": (401, INVALID, "Missing API key. Send it as 'Authorization: Bearer <key>'."),
    "invalid_api_key": (401, INVALID, "Invalid API key."),
    "route_forbidden": (403, INVALID, "This route is disabled at the gateway."),
    "route_not_found": (404, INVALID, "This route is not served."),
    "method_not_allowed": (405, INVALID, "This method is not allowed on this route."),
    "request_timeout": (408, INVALID, "The request was not received in time."),
    "request_too_large": (413, INVALID, "Request body too large."),
    "unsupported_content_encoding": (415, INVALID, "Compressed request bodies are not accepted."),
    "expectation_failed": (417, INVALID, "Only 'Expect: 100-continue' is supported."),
    "invalid_request_target": (400, INVALID, "The request path is not valid."),
    "malformed_request": (400, INVALID, "The request is not valid HTTP."),
    "invalid_json_object": (400, INVALID, "The request body must be a JSON object."),
    "request_field_refused": (
        400, INVALID, "This deployment serves one model: 'adapters' and 'draft_model' are not accepted.",
    ),
    "request_header_fields_too_large": (431, INVALID, "The request head is too large."),
    "rate_limit_exceeded": (429, "rate_limit_error", "Rate limit exceeded for this API key."),
    "concurrency_limit_exceeded": (
        429, "rate_limit_error", "Too many concurrent requests for this API key. Retry when one finishes.",
    ),
    "unauthenticated_rate_limit_exceeded": (
        429, "rate_limit_error", "Too many requests without a valid API key from this address.",
    ),
    "body_budget_exceeded": (
        503, SERVER, "The gateway is receiving too many request bodies at once. Retry shortly.",
    ),
    "too_many_connections": (503, SERVER, "The gateway has too many open connections. Retry shortly."),
    "internal_error": (500, SERVER, "The gateway failed to handle the request."),
    "upstream_error": (502, SERVER, "The model server failed to handle the request."),
    "upstream_unavailable": (502, SERVER, "The model server is unavailable."),
    "upstream_timeout": (504, SERVER, "The model server timed out."),
}

UNAUTHORIZED_HEADERS = {
    "missing_api_key": {"WWW-Authenticate": 'Bearer realm="slm-gateway"'},
    "invalid_api_key": {"WWW-Authenticate": 'Bearer realm="slm-gateway", error="invalid_token"'},
}
# An HTTP-date is 29 characters; a runtime's Retry-After longer than this is not one the gateway passes on.
MAX_RETRY_AFTER_CHARACTERS = 64


def error_body(code: str) -> bytes:
    """The JSON body `{"error": {message, type, param, code}}` for an error code."""
    _, error_type, message = ERRORS[code]
    return json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}}).encode()


def error_response(
    code: str, status: int | None = None, headers: dict[str, str] | None = None, close: bool = False
) -> Reply:
    """The error as a reply; `status` overrides the code's own (an upstream 5xx keeps its status)."""
    extra = {**UNAUTHORIZED_HEADERS[code], **(headers or {})} if code in UNAUTHORIZED_HEADERS else headers
    return Reply(status or ERRORS[code][0], error_body(code), headers=extra, close=close)


def retry_after(seconds: float) -> dict[str, str]:
    """The Retry-After header for a wait: whole seconds, at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def relayed_retry_after(value: str | None) -> dict[str, str] | None:
    """A runtime's Retry-After for the gateway's own answer, only as delta-seconds or an HTTP-date (else dropped)."""
    if value is None or len(value) > MAX_RETRY_AFTER_CHARACTERS or not value.isascii() or not value.isprintable():
        return None
    if value.isdigit():
        return {"Retry-After": value}
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return {"Retry-After": value}


def raw_error(code: str, extra_headers: str = "") -> bytes:
    """A whole HTTP/1.1 response that closes the connection, for answers written straight to the socket."""
    status = ERRORS[code][0]
    body = error_body(code)
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n{SERVER_LINE}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra_headers}\r\n"
    ).encode() + body
