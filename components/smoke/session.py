"""One smoke run's HTTP state: the client, the key, what the endpoint answered so far, and safe descriptions."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

import httpx

from slm_deploy.smoke.expectations import SmokeExpectations
from slm_deploy.smoke.keys import ApiKey

BODY_EXCERPT = 160


class CheckFailed(Exception):
    """The endpoint answered wrongly; the message is the reason shown to the user."""


class CheckSkipped(Exception):
    """The check does not apply to this endpoint; the message says why."""


@dataclass
class SmokeSession:
    """Shared by every check of a run; checks read the model the listing check found."""

    client: httpx.Client
    endpoint: str
    expect: SmokeExpectations
    key: ApiKey | None = None
    metrics_url: str | None = None
    model: str | None = None
    wrong_key: str = field(default_factory=lambda: f"smoke-{secrets.token_hex(20)}")

    def url(self, path: str) -> str:
        """The endpoint's URL for a path."""
        return f"{self.endpoint.rstrip('/')}{path}"

    def headers(self, key: str | None = None) -> dict[str, str]:
        """Authorization with the given key, else the run's key, else none."""
        value = key if key is not None else (self.key.value if self.key else None)
        return {"Authorization": f"Bearer {value}"} if value else {}

    def redact(self, text: str) -> str:
        """Never show a key, even if a server echoes it."""
        for value in (self.key.value if self.key else None, self.wrong_key):
            if value:
                text = text.replace(value, "***")
        return text

    def describe(self, response: httpx.Response, what: str) -> str:
        """`HTTP 500 from POST /v1/chat/completions: <the server's error message>`, redacted and short."""
        return f"HTTP {response.status_code} from {what}: {self.excerpt(response)}"

    def excerpt(self, response: httpx.Response) -> str:
        """The error message of an OpenAI-style error body, else the start of the body."""
        try:
            text = response.text
        except httpx.ResponseNotRead:
            text = response.read().decode("utf-8", "replace")
        message = text
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message") or body["error"])
        elif isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body["error"]
        message = " ".join(self.redact(message).split())
        return (message[:BODY_EXCERPT] + "...") if len(message) > BODY_EXCERPT else (message or "(empty body)")

    def deadline(self) -> float:
        """When a streamed answer must have ended: per-read timeouts alone never end an endless stream."""
        return time.monotonic() + (self.client.timeout.read or 60.0)

    def model_name(self) -> str:
        """The model chat checks use: the spec's, else the first one the endpoint listed."""
        if self.model is None:
            raise CheckFailed("no model to ask: the model listing check did not find one")
        return self.model


def json_body(session: SmokeSession, response: httpx.Response, what: str) -> dict:
    """The response's JSON object, or a failure naming what came back instead."""
    if response.status_code != 200:
        raise CheckFailed(session.describe(response, what))
    try:
        body = response.json()
    except ValueError:
        raise CheckFailed(f"{what} answered 200 but the body is not JSON: {session.excerpt(response)}") from None
    if not isinstance(body, dict):
        raise CheckFailed(f"{what} answered 200 but the body is not a JSON object")
    return body
