"""Read, parse and check a chat request body so that no client input can exhaust memory or crash a handler.

The body is read as a stream with a size limit (a declared Content-Length over the limit is refused before a
byte is read) and a deadline; JSON nesting is bounded; strings native code cannot take (lone surrogates, NUL)
are refused; validation errors name the parameter as the OpenAI API does (`messages[0].content`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request

from . import openai_format as fmt
from .capabilities import first_unsupported
from .schemas import ChatCompletionRequest

MAX_JSON_DEPTH = 64
"""Deepest nesting a request may have; the deepest a valid chat request needs is well under 20."""
CLOSE = {"Connection": "close"}


class ClientGone(Exception):
    """The client hung up before its request body arrived."""


async def read_body(request: Request, max_bytes: int, timeout_seconds: float) -> bytes:
    """The request body, refused (and the connection closed) once it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
    except TimeoutError:
        raise fmt.ApiError(408, f"the request body did not arrive within {timeout_seconds:g} seconds",
                           error_type="invalid_request_error", code="request_timeout", headers=CLOSE) from None
    except ClientDisconnect:
        raise ClientGone() from None
    return bytes(body)


def parse_chat_request(raw: bytes) -> ChatCompletionRequest:
    """Validate the body; any problem is a 400 naming the parameter, as OpenAI clients expect."""
    payload = _decode_json(raw)
    _check_values(payload)
    try:
        request = ChatCompletionRequest.model_validate(payload)
    except ValidationError as error:
        param, message, code = _most_specific(error, payload)
        raise fmt.ApiError(400, f"{param}: {message}" if param else message, error_type="invalid_request_error",
                           code=code, param=param or None) from None
    unsupported = first_unsupported(request)
    if unsupported is not None:
        param, reason = unsupported
        raise fmt.ApiError(400, f"{param}: {reason}", error_type="invalid_request_error",
                           code="unsupported_parameter", param=param)
    return request


def _too_large(max_bytes: int) -> fmt.ApiError:
    return fmt.ApiError(413, f"the request body is larger than {max_bytes} bytes", error_type="invalid_request_error",
                        code="request_too_large", headers=CLOSE)


def _decode_json(raw: bytes) -> Any:
    try:
        payload = json.loads(raw)
    except ValueError as error:  # not UTF-8, not JSON, or a number too long to convert
        raise fmt.ApiError(400, f"the request body is not valid JSON: {error}",
                           error_type="invalid_request_error", code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(payload, dict):
        raise fmt.ApiError(400, "the request body must be a JSON object",
                           error_type="invalid_request_error", code="invalid_request")
    return payload


def _too_deep() -> fmt.ApiError:
    return fmt.ApiError(400, f"the request body nests deeper than {MAX_JSON_DEPTH} levels",
                        error_type="invalid_request_error", code="invalid_json")


def _check_values(payload: dict) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH and strings that are not plain Unicode text, naming where they are."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(payload, ())]
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path)
                pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    if "\x00" in text:
        problem = "contains a NUL character (\\u0000)"
    else:
        try:
            text.encode("utf-8")
            return
        except UnicodeEncodeError:
            problem = "contains a lone UTF-16 surrogate, which is not a Unicode character"
    param = public_name(path) or None
    raise fmt.ApiError(400, f"{param or 'the request body'}: a string {problem}",
                       error_type="invalid_request_error", code="invalid_request", param=param)


def public_name(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`messages[0].content` for the path ("messages", 0, "content")."""
    name = ""
    for part in path:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def _input_path(loc: tuple[str | int, ...], payload: Any, missing: bool) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic error location that exist in the input; the rest name union members."""
    path: list[str | int] = []
    value = payload
    for position, part in enumerate(loc):
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif missing and position == len(loc) - 1 and isinstance(value, dict):
            pass
        else:
            continue
        path.append(part)
    return tuple(path)


def _most_specific(error: ValidationError, payload: Any) -> tuple[str, str, str]:
    """The deepest problem pydantic found, as (public parameter name, message, error code)."""
    best: tuple[tuple[str | int, ...], dict[str, Any]] | None = None
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        path = _input_path(tuple(detail["loc"]), payload, missing=detail["type"] == "missing")
        if best is None or len(path) > len(best[0]):
            best = (path, detail)
    assert best is not None, "pydantic reports at least one error"
    path, detail = best
    if detail["type"] == "extra_forbidden":
        return (public_name(path), "unrecognized request argument; this server accepts the parameters of the OpenAI "
                "API reference", "unknown_parameter")
    if detail["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return public_name(path), "Input should be a JSON object", "invalid_request"
    return public_name(path), str(detail["msg"]).removeprefix("Value error, "), "invalid_request"
