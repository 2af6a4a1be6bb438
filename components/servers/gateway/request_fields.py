"""Keep clients on the served model: a runtime that loads whatever a request names gets only its default."""

from __future__ import annotations

from slm_deploy.servers.gateway.usage import MAX_INJECTION_BODY_BYTES, encode_json, parse_json, with_stream_usage


class FieldRefusal(Exception):
    """A request body the gateway will not forward; `code` is the error code sent to the client."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def restrict_request_fields(body: bytes, removed: frozenset[str], refused: frozenset[str], *,
                            inject_usage: bool = False) -> tuple[bytes, bool]:
    """The body without the `removed` members; refused when it names a `refused` one or is not a JSON object. With
    `inject_usage`, a streamed request that did not ask for usage asks for it, from the same single parse; the
    second value says whether it was asked for."""
    if len(body) > MAX_INJECTION_BODY_BYTES:
        raise FieldRefusal("request_too_large")
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise FieldRefusal("invalid_json_object")
    if refused.intersection(obj):
        raise FieldRefusal("request_field_refused")
    kept = {name: value for name, value in obj.items() if name not in removed}
    asked = with_stream_usage(kept, bool) if inject_usage else None  # mlx-lm streams on any true-ish `stream`
    if asked is not None:
        return encode_json(asked), True
    return (body if len(kept) == len(obj) else encode_json(kept)), False
