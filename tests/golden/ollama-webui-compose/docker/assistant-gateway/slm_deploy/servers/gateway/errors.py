"""Error bodies in the OpenAI shape, so every client library shows them properly."""

from __future__ import annotations

import json
import math

from aiohttp import web


def error_response(
    status: int, message: str, error_type: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON error `{"error": {message, type, param, code}}`; never echoes request data."""
    body = json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def missing_key() -> web.Response:
    """401 for a request without a bearer key."""
    return error_response(
        401,
        "Missing API key. Send it as 'Authorization: Bearer <key>'.",
        "invalid_request_error",
        "missing_api_key",
        {"WWW-Authenticate": 'Bearer realm="slm-gateway"'},
    )


def invalid_key() -> web.Response:
    """401 for a key that is not (or no longer) in the key file."""
    return error_response(
        401,
        "Invalid API key.",
        "invalid_request_error",
        "invalid_api_key",
        {"WWW-Authenticate": 'Bearer realm="slm-gateway", error="invalid_token"'},
    )


def rate_limited(retry_after: float) -> web.Response:
    """429 when the key's request rate is used up; says when to retry."""
    seconds = max(1, math.ceil(retry_after))
    return error_response(
        429,
        f"Rate limit exceeded for this API key. Retry after {seconds} s.",
        "rate_limit_error",
        "rate_limit_exceeded",
        {"Retry-After": str(seconds)},
    )


def too_many_concurrent() -> web.Response:
    """429 when the key already has its maximum number of requests running."""
    return error_response(
        429,
        "Too many concurrent requests for this API key. Retry when one finishes.",
        "rate_limit_error",
        "concurrency_limit_exceeded",
        {"Retry-After": "1"},
    )


def not_found() -> web.Response:
    """404 for routes the gateway does not forward."""
    return error_response(404, "This route is not served.", "invalid_request_error", "route_not_found")


def forbidden_route() -> web.Response:
    """403 for model-management routes the gateway never forwards."""
    return error_response(403, "This route is disabled at the gateway.", "invalid_request_error", "route_forbidden")


def upstream_unavailable() -> web.Response:
    """502 when the runtime cannot be reached."""
    return error_response(502, "The model server is unavailable.", "server_error", "upstream_unavailable")


def upstream_timeout() -> web.Response:
    """504 when the runtime stops answering."""
    return error_response(504, "The model server timed out.", "server_error", "upstream_timeout")
