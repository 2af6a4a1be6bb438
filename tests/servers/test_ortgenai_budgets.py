"""What one client's input can cost the server is bounded: grammar compilation, body validation, templating.

A `response_format` schema whose grammar would grow without bound is refused with a 400 naming `response_format`,
by its limits before compiling or by the compile budget while compiling in a child process; large valid bodies are
validated off the event loop, so /health keeps answering within the probe timeout while hostile bodies are
processed. The server runs under an address-space limit, so a regression fails the test instead of the host.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the ortgenai server runs on uvicorn")
pytest.importorskip("onnxruntime_genai", reason="the ortgenai server needs onnxruntime-genai")

from slm_deploy.servers.ortgenai.schema_limits import SchemaLimitError, check_schema_limits  # noqa: E402
from slm_deploy.servers.ortgenai.request_body import SCHEMA_PARAM  # noqa: E402
from slm_deploy.render.kubernetes.probes import PROBE_TIMEOUT  # noqa: E402
from tests.servers.ortgenai_helpers import SERVED_NAME  # noqa: E402
from tests.servers.ortgenai_process import ServerProcess, chat_request, exchange, request_bytes, served  # noqa: E402

HEALTH_DEADLINE = PROBE_TIMEOUT / 2
"""Every /health answer must arrive well inside the rendered probes' timeout, whatever else the server is doing."""
PROBE_INTERVAL = 0.1


@pytest.fixture(scope="module")
def server(tiny_onnx_model: Path, tmp_path_factory) -> ServerProcess:
    with served(tiny_onnx_model, tmp_path_factory.mktemp("budgets"), SLM_MAX_CONCURRENCY="2",
                SLM_MAX_QUEUE="32") as process:
        yield process


def chat(**extra) -> dict:
    return {"model": SERVED_NAME, "messages": [{"role": "user", "content": "Hello there"}],
            "max_tokens": 4, "temperature": 0, **extra}


def with_schema(schema: dict) -> dict:
    return chat(response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}})


def assert_refused(response, param: str, code: str = "invalid_request") -> dict:
    assert response.status == 400, response.body
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code), error
    assert error["message"].startswith(param)
    return error


def assert_still_serving(server: ServerProcess) -> None:
    assert server.alive(), "the server process ended"
    assert exchange(server.port, request_bytes("GET", "/health")).status == 200
    assert exchange(server.port, chat_request(chat())).status == 200


def integer_array(**bounds) -> dict:
    return {"type": "array", "items": {"type": "integer"}, **bounds}


class HealthProbe:
    """Probes /health as a kubelet would, on its own thread, recording how long each answer took."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = exchange(self._port, request_bytes("GET", "/health"), timeout=PROBE_TIMEOUT).status
            except OSError as error:
                self.failures.append(type(error).__name__)
            else:
                if status != 200:
                    self.failures.append(str(status))
            self.latencies.append(time.monotonic() - started)
            self._stop.wait(PROBE_INTERVAL)

    def assert_healthy_throughout(self) -> None:
        assert len(self.latencies) >= 3, "the probe hardly ran"
        assert not self.failures, self.failures
        assert max(self.latencies) < HEALTH_DEADLINE, f"slowest /health answer took {max(self.latencies):.2f}s"


@pytest.mark.parametrize(
    "schema",
    [
        integer_array(minItems=1_000_000_000),
        integer_array(minItems=10_000_000),
        integer_array(prefixItems=[{"type": "integer"}], maxItems=10_000_000),
        {"type": "object", "properties": {f"list{index}": integer_array(maxItems=5000) for index in range(100)}},
        {"type": "object", "patternProperties": {f"^k{index}[a-z]*$": {"type": "integer"} for index in range(300)}},
        {"type": "string", "minLength": 1_000_000_000},
        {"type": "string", "pattern": "a" * 5000},
        {"enum": list(range(5000))},
        {"type": "object", "properties": {f"p{index}": {"type": "integer"} for index in range(6000)}},
        {"x-guidance": {"coerce_one_of": True}, "oneOf": [{"type": "integer"}, {"type": "string"}]},
        {"type": "array", "minItems": 2**70, "items": {"type": "integer"}},
        {"type": "array", "minItems": -1, "items": {"type": "integer"}},
        {"type": "array", "minItems": True, "items": {"type": "integer"}},
    ],
    ids=["min-items-1e9", "min-items-1e7", "max-items-1e7", "array-positions-summed", "pattern-properties-300",
         "min-length-1e9", "pattern-5000-chars", "enum-5000", "properties-6000", "x-guidance", "min-items-2**70",
         "min-items-negative", "min-items-boolean"],
)
def test_schema_beyond_its_limits_is_400_before_it_compiles(server, schema):
    assert_refused(exchange(server.port, chat_request(with_schema(schema))), SCHEMA_PARAM)
    assert_still_serving(server)


def test_a_definition_counts_at_every_use(server):
    """Within every limit once, but the compiler spells the definition's 10,000 positions out at each of 1000 uses."""
    schema = {"$defs": {"list": integer_array(minItems=10_000)}, "type": "object",
              "properties": {f"p{index}": {"allOf": [{"$ref": "#/$defs/list"}, {"type": "array"}]}
                             for index in range(1000)}}
    error = assert_refused(exchange(server.port, chat_request(with_schema(schema))), SCHEMA_PARAM)
    assert "array positions" in error["message"]
    assert_still_serving(server)


def test_definitions_that_double_at_each_level_are_refused_and_recursion_is_counted_once():
    bomb: dict = {"$defs": {"d0": {"type": "string"}}}
    for level in range(1, 40):
        bomb["$defs"][f"d{level}"] = {"anyOf": [{"$ref": f"#/$defs/d{level - 1}"}] * 2}
    bomb["$ref"] = "#/$defs/d39"
    with pytest.raises(SchemaLimitError, match="subschemas"):
        check_schema_limits(bomb)
    tree = {"$defs": {"node": {"type": "object", "properties": {
        "children": {"type": "array", "maxItems": 8, "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}
    check_schema_limits(tree)


def expensive_to_compile() -> dict:
    """Within every limit, but each property name is matched against every pattern: seconds of CPU to compile."""
    return {"type": "object",
            "properties": {f"p{index}": {"type": "integer"} for index in range(5000)},
            "patternProperties": {f"^q{index}[a-z]*$": {"type": "string"} for index in range(32)}}


def test_schema_whose_grammar_exceeds_the_time_budget_is_400(server):
    error = assert_refused(exchange(server.port, chat_request(with_schema(expensive_to_compile()))),
                           SCHEMA_PARAM)
    assert "budget" in error["message"]
    assert_still_serving(server)


def test_health_answers_while_expensive_schemas_compile(server):
    bodies = [with_schema({**expensive_to_compile(), "title": f"variant {index}"}) for index in range(4)]
    with HealthProbe(server.port) as probe, ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(pool.map(lambda body: exchange(server.port, chat_request(body)), bodies))
    for response in responses:
        assert_refused(response, SCHEMA_PARAM)
    probe.assert_healthy_throughout()


def test_schema_within_its_limits_still_constrains_the_reply(server):
    schema = integer_array(minItems=3, maxItems=3)
    for seed in (1, 2):
        response = exchange(server.port, chat_request({**with_schema(schema), "temperature": 1.0, "seed": seed,
                                                       "max_tokens": 200}))
        assert response.status == 200, response.body
        [choice] = response.json()["choices"]
        assert choice["finish_reason"] == "stop"
        reply = json.loads(choice["message"]["content"])
        assert len(reply) == 3 and all(isinstance(item, int) for item in reply)


def test_more_messages_than_allowed_is_400_naming_messages(server):
    too_many = [{"role": "user", "content": "x"}] * 2049
    assert_refused(exchange(server.port, chat_request(chat(messages=too_many))), "messages")


def test_the_most_messages_allowed_pass_validation(server):
    """2048 messages are validated and templated; the tiny model's 512-token context then refuses the prompt."""
    most = [{"role": "user", "content": "x"}] * 2048
    assert_refused(exchange(server.port, chat_request(chat(messages=most))), "messages",
                   code="context_length_exceeded")


def test_more_content_parts_than_allowed_is_400_naming_the_message(server):
    parts = [{"type": "text", "text": "x"}] * 257
    assert_refused(exchange(server.port, chat_request(chat(messages=[{"role": "user", "content": parts}]))),
                   "messages[0].content")


@pytest.mark.parametrize("param", ["tools", "metadata", "stop", "logit_bias", "prediction"])
def test_a_parameter_holding_too_many_json_values_is_400_naming_it(server, param):
    values = {"tools": [{}] * 60_000, "metadata": {f"k{index}": "v" for index in range(60_000)},
              "stop": ["s"] * 60_000, "logit_bias": {str(index): 0 for index in range(60_000)},
              "prediction": {"type": "content", "content": [{"type": "text", "text": ""}] * 20_000}}
    assert_refused(exchange(server.port, chat_request(chat(**{param: values[param]}))), param)


def hostile_bodies() -> list[bytes]:
    """Bodies just under the 2 MiB limit that cost the most to validate and template: many tiny messages."""
    many = json.dumps(chat(messages=[{"role": "user", "content": "x"}] * 61_000)).encode()
    long_turns = json.dumps(chat(messages=[{"role": "user", "content": "hello " * 160}] * 2048)).encode()
    return [many] * 6 + [long_turns] * 2


def test_health_answers_within_the_probe_timeout_while_hostile_bodies_are_processed(server):
    bodies = hostile_bodies()
    with HealthProbe(server.port) as probe, ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(pool.map(lambda body: exchange(server.port, chat_request(body)), bodies))
    for response in responses:
        assert response.status == 400 and response.json()["error"]["param"] == "messages", response.body[:300]
    probe.assert_healthy_throughout()
    assert_still_serving(server)
