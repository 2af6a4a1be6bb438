"""Keep clients on the served model: a runtime that loads whatever a request names gets only its default."""

from __future__ import annotations

from slm_deploy.servers.gateway.usage import MAX_INJECTION_BODY_BYTES, encode_json, parse_json


class FieldRefusal(Exception):
    """A request body the gateway will not forward; `code` is the error code sent to the client."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def restrict_request_fields(body: bytes, removed: frozenset[str], refused: frozenset[str]) -> bytes:
    """The body without the `removed` members; refused when it names a `refused` one or is not a JSON object."""
    if len(body) > MAX_INJECTION_BODY_BYTES:
        raise FieldRefusal("request_too_large")
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise FieldRefusal("invalid_json_object")
    if refused.intersection(obj):
        raise FieldRefusal("request_field_refused")
    if not removed.intersection(obj):
        return body
    return encode_json({name: value for name, value in obj.items() if name not in removed})
