"""uvicorn's HTTP/1.1 protocol, answering requests it cannot parse in the OpenAI error shape instead of plain text."""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import openai_format as fmt

MALFORMED_BODY = json.dumps(fmt.error_body(
    "the request is not valid HTTP/1.1 (request line, headers, Content-Length or chunked framing)",
    "invalid_request_error", "invalid_http",
)).encode()


class OpenAIErrorH11Protocol(H11Protocol):
    """Same parsing as uvicorn's h11 protocol; only the refusal of a malformed request differs, and never echoes it."""

    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(MALFORMED_BODY)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=MALFORMED_BODY), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
