"""Read, parse and check a chat request body so that no client input can exhaust memory or crash a handler.

The body is read as a stream with a size limit (a declared Content-Length over the limit is refused before a
byte is read) and a deadline; JSON nesting is bounded; strings native code cannot take (lone surrogates, NUL)
are refused; validation errors name the parameter as the OpenAI API does (`messages[0].content`).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import ClientDisconnect, Request

from . import openai_format as fmt
from .capabilities import first_unsupported
from .schema_limits import SchemaLimitError, check_schema_limits
from .schemas import ChatCompletionRequest

SCHEMA_PATH = ("response_format", "json_schema", "schema")
SCHEMA_PARAM = ".".join(SCHEMA_PATH)
CLIENT_KEYED_PARAMETERS = frozenset({"metadata", "logit_bias", "tools", "functions", "tool_choice", "function_call",
                                     "prediction", "audio", "web_search_options", "moderation",
                                     "prompt_cache_options"})
"""Parameters whose nested keys the client names; a refusal names the parameter, not the client's key."""

MAX_JSON_DEPTH = 64
"""Deepest nesting a request may have; the deepest a valid chat request needs is well under 20."""
MAX_VALUES_PER_PARAMETER = 50_000
"""JSON values (objects, arrays, strings, numbers...) one top-level parameter may hold; 2048 messages need ~10,000."""
CLOSE = {"Connection": "close"}


class ClientGone(Exception):
    """The client hung up before its request body arrived."""


JSON_MEDIA_TYPE = "application/json"
MAX_INTEGER_DIGITS = 20
"""Longer digit strings are beyond any parameter's range (64 bits); they are refused before Python converts them."""


class _OutOfRange:
    """Stands in for a number too long or too large to convert, so the refusal can name its parameter."""


OUT_OF_RANGE = _OutOfRange()


def check_content_type(request: Request) -> None:
    """The body must be JSON in UTF-8: a Content-Type other than application/json (charset utf-8) is refused."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media_type, _, parameters = declared.partition(";")
    charset = parameters.strip().lower().removeprefix("charset=").strip('"') if parameters.strip() else "utf-8"
    if media_type.strip().lower() != JSON_MEDIA_TYPE or charset not in ("utf-8", "utf8"):
        raise fmt.ApiError(415, f"the request body must be {JSON_MEDIA_TYPE} in UTF-8 (Content-Type: {JSON_MEDIA_TYPE})",
                           error_type="invalid_request_error", code="unsupported_media_type")


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
    try:
        check_schema_limits(request.output_schema())
    except SchemaLimitError as error:
        raise schema_refusal(str(error)) from None
    return request


def schema_refusal(reason: str) -> fmt.ApiError:
    """A 400 for a response_format schema that cannot be used, naming where the schema goes."""
    return fmt.ApiError(400, f"{SCHEMA_PARAM}: {reason}", error_type="invalid_request_error",
                        code="invalid_request", param=SCHEMA_PARAM)


def _too_large(max_bytes: int) -> fmt.ApiError:
    return fmt.ApiError(413, f"the request body is larger than {max_bytes} bytes", error_type="invalid_request_error",
                        code="request_too_large", headers=CLOSE)


def _decode_json(raw: bytes) -> Any:
    """JSON as RFC 8259 has it: UTF-8 without a byte order mark, no NaN or Infinity."""
    try:
        payload = json.loads(raw.decode("utf-8"), parse_int=_parse_int, parse_float=_parse_float,
                             parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise _not_json("it is not UTF-8") from None
    except ValueError as error:
        raise _not_json(str(error)) from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(payload, dict):
        raise fmt.ApiError(400, "the request body must be a JSON object",
                           error_type="invalid_request_error", code="invalid_request")
    return payload


def _not_json(reason: str) -> fmt.ApiError:
    return fmt.ApiError(400, f"the request body is not valid JSON: {reason}", error_type="invalid_request_error",
                        code="invalid_json")


def _parse_int(digits: str) -> int | _OutOfRange:
    return OUT_OF_RANGE if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS else int(digits)


def _parse_float(text: str) -> float | _OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OUT_OF_RANGE


def _refuse_constant(name: str) -> None:
    raise ValueError("NaN and Infinity are not JSON numbers")


def _too_deep() -> fmt.ApiError:
    return fmt.ApiError(400, f"the request body nests deeper than {MAX_JSON_DEPTH} levels",
                        error_type="invalid_request_error", code="invalid_json")


def _check_values(payload: dict) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH, oversized parameters and strings that are not plain Unicode text."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(payload, ())]
    values_per_parameter: dict[str | int, int] = {}
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise _too_deep()
        if path:
            values_per_parameter[path[0]] = count = values_per_parameter.get(path[0], 0) + 1
            if count > MAX_VALUES_PER_PARAMETER:
                _check_text(str(path[0]), ())
                raise fmt.ApiError(400, f"{path[0]}: holds more than {MAX_VALUES_PER_PARAMETER} JSON values",
                                   error_type="invalid_request_error", code="invalid_request", param=str(path[0]))
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path)
                pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)
        elif value is OUT_OF_RANGE:
            param = parameter_at(path) or None
            raise fmt.ApiError(400, f"{param}: the number is out of range", error_type="invalid_request_error",
                               code="invalid_request", param=param)


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    if "\x00" in text:
        problem = "contains a NUL character (\\u0000)"
    else:
        try:
            text.encode("utf-8")
            return
        except UnicodeEncodeError:
            problem = "contains a lone UTF-16 surrogate, which is not a Unicode character"
    param = parameter_at(path) or None
    raise fmt.ApiError(400, f"{param or 'the request body'}: a string {problem}",
                       error_type="invalid_request_error", code="invalid_request", param=param)


def parameter_at(path: tuple[str | int, ...]) -> str:
    """The public name of the parameter holding `path`, stopping before keys the client chose (never echoed)."""
    if path[:3] == SCHEMA_PATH:
        return SCHEMA_PARAM
    if path and path[0] in CLIENT_KEYED_PARAMETERS:
        return str(path[0])
    return public_name(path)


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
    best: tuple[tuple[str | int, ...], ErrorDetails] | None = None
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        path = _input_path(tuple(detail["loc"]), payload, missing=detail["type"] == "missing")
        if best is None or len(path) > len(best[0]):
            best = (path, detail)
    assert best is not None, "pydantic reports at least one error"
    path, detail = best
    if detail["type"] == "extra_forbidden":
        return (parameter_at(path), "unrecognized request argument; this server accepts the parameters of the OpenAI "
                "API reference", "unknown_parameter")
    if detail["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return parameter_at(path), "Input should be a JSON object", "invalid_request"
    return parameter_at(path), str(detail["msg"]).removeprefix("Value error, "), "invalid_request"
