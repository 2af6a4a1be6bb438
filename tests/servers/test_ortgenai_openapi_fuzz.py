"""Fuzz the server with schemathesis against the OpenAI API's own OpenAPI document (vendored subset).

Bodies are generated from the document, both valid ones (with the served model's name, so they reach
generation) and invalid ones. Every answer must come back in time, never be a 5xx, and match the document:
2xx bodies and every streamed chunk against the operation's response schemas, refusals against the
document's `ErrorResponse`. About 250 examples run by default; SLM_DEPLOY_FUZZ_EXAMPLES raises the count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the fuzz test needs schemathesis")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

import jsonschema  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from referencing import Registry, Resource  # noqa: E402
from referencing.jsonschema import DRAFT202012  # noqa: E402
from schemathesis.checks import not_a_server_error, response_schema_conformance  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from tests.servers.ortgenai_helpers import SERVED_NAME, sse_payloads  # noqa: E402
from tests.servers.ortgenai_process import ServerProcess, served  # noqa: E402

DOCUMENT_PATH = Path(__file__).parent / "openai_openapi" / "openapi-subset.json"
DOCUMENT = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
EXAMPLES = int(os.environ.get("SLM_DEPLOY_FUZZ_EXAMPLES", "0")) or None
REQUEST_SECONDS = 30.0
"""No single answer may take longer: the tiny model generates its whole context in well under a second."""


def document_validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for one of the document's component schemas, resolving references within the document."""
    registry = Registry().with_resource("urn:openai", Resource(contents=DOCUMENT, specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{schema_name}"},
                                           registry=registry)


ERROR_RESPONSE = document_validator("ErrorResponse")
STREAM_CHUNK = document_validator("CreateChatCompletionStreamResponse")


@pytest.fixture(scope="module")
def server(tiny_onnx_model: Path, tmp_path_factory) -> ServerProcess:
    with served(tiny_onnx_model, tmp_path_factory.mktemp("fuzz"), SLM_MAX_QUEUE="4") as process:
        yield process


def served_model(case):
    """Point a generated chat request at the served model, so valid requests reach generation."""
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = SERVED_NAME
    return case


def check_answer(case, response) -> None:
    """No 5xx; 2xx bodies and streamed chunks match the document's response schemas; errors its ErrorResponse."""
    assert response.status_code < 500, f"{response.status_code} for {case.body!r}: {response.text[:500]}"
    if response.status_code >= 400:
        ERROR_RESPONSE.validate(response.json())
        return
    if response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
        payloads = sse_payloads(response.text)
        assert payloads[-1] == "[DONE]", payloads[-3:]
        for payload in payloads[:-1]:
            STREAM_CHUNK.validate(json.loads(payload))
        return
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def fuzz(operation, server: ServerProcess, default_examples: int, prepare=lambda case: case) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(prepare),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(max_examples=EXAMPLES or default_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def one(case) -> None:
        response = case.call(base_url=f"{server.base_url}/v1", timeout=REQUEST_SECONDS)
        check_answer(case, response)

    one()


def test_chat_completions_against_the_openai_document(server):
    fuzz(SCHEMA["/chat/completions"]["POST"], server, default_examples=200, prepare=served_model)


def test_models_against_the_openai_document(server):
    fuzz(SCHEMA["/models"]["GET"], server, default_examples=10)
    fuzz(SCHEMA["/models/{model}"]["GET"], server, default_examples=30)
