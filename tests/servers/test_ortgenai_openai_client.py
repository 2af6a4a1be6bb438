"""The real OpenAI Python client against the server process: plain, streamed and cancelled use, and refusals.

The client is the judge of wire compatibility: it parses every answer with its own models, and turns error
bodies into typed exceptions carrying the parameter the server named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

openai = pytest.importorskip("openai", reason="the client test needs the openai package")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from tests.servers.ortgenai_helpers import SERVED_NAME, wait_until  # noqa: E402
from tests.servers.ortgenai_process import ServerProcess, served  # noqa: E402

MESSAGES = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Hello, how are you today?"}]


@pytest.fixture(scope="module")
def server(tiny_onnx_model: Path, tmp_path_factory) -> ServerProcess:
    with served(tiny_onnx_model, tmp_path_factory.mktemp("openai-client")) as process:
        yield process


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="not-checked-here", max_retries=0,
                       timeout=30) as openai_client:
        yield openai_client


def test_plain_completion_parses(client):
    completion = client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=12, temperature=0)
    [choice] = completion.choices
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.message.refusal is None
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens <= 12
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_completion_matches_the_plain_one(client):
    plain = client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=20, temperature=0,
                                           seed=2**40)
    stream = client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=20, temperature=0,
                                            seed=2**40, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_cancelled_stream_frees_its_slot(client, server):
    before = server.metric("ortgenai_errors_total", kind="client_disconnected")
    stream = client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=480, temperature=1.0,
                                            stream=True)
    next(iter(stream))
    stream.close()
    wait_until(lambda: server.metric("ortgenai_generations_running") == 0, "the cancelled stream's slot to free")
    assert server.metric("ortgenai_errors_total", kind="client_disconnected") - before <= 1
    assert client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=2).choices


def test_models_list_and_retrieve(client):
    assert [model.id for model in client.models.list()] == [SERVED_NAME]
    assert client.models.retrieve(SERVED_NAME).id == SERVED_NAME
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_json_schema_output_through_the_client(client):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    completion = client.chat.completions.create(
        model=SERVED_NAME, messages=MESSAGES, max_tokens=200, temperature=1.0, seed=1,
        response_format={"type": "json_schema", "json_schema": {"name": "status", "schema": schema, "strict": True}},
    )
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(completion.choices[0].message.content)["ok"], bool)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"logprobs": True, "top_logprobs": 3}, "logprobs"),
        ({"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]},
         "tools"),
        ({"presence_penalty": 1.0}, "presence_penalty"),
        ({"n": 3}, "n"),
        ({"extra_body": {"top_k": 5}}, "top_k"),
    ],
)
def test_refusals_reach_the_client_as_bad_request_naming_the_parameter(client, options, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=SERVED_NAME, messages=MESSAGES, max_tokens=4, **options)
    assert raised.value.param == param
    assert raised.value.type == "invalid_request_error"
