"""Shared pieces of the server tests: an independent greedy reference, metric reading, SSE parsing."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

SERVED_NAME = "tiny"
READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Reference:
    """What ONNX Runtime GenAI itself produces for a prompt, computed without the server's code."""

    prompt_tokens: int
    completion_tokens: int
    text: str
    hit_eos: bool


def greedy_reference(model_dir: Path, messages: list[dict[str, str]], max_tokens: int) -> Reference:
    """Greedy decoding straight through onnxruntime_genai, as the judge of the server's replies."""
    import onnxruntime_genai as og

    model = og.Model(str(model_dir))
    tokenizer = og.Tokenizer(model)
    prompt = tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
    prompt_ids = tokenizer.encode(prompt)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(prompt_ids) + max_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(prompt_ids)
    stream = tokenizer.create_stream()
    eos = set(int(token) for token in tokenizer.eos_token_ids)
    pieces: list[str] = []
    generated = 0
    hit_eos = False
    while generated < max_tokens and not generator.is_done():
        generator.generate_next_token()
        token = int(generator.get_next_tokens()[0])
        generated += 1
        if token in eos:
            hit_eos = True
            break
        pieces.append(stream.decode(token))
    return Reference(len(prompt_ids), generated, "".join(pieces), hit_eos)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus exposition text (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0


def sse_payloads(body: str) -> list[str]:
    """The data fields of a server-sent event stream, in order."""
    events = [event for event in body.split("\n\n") if event.strip()]
    payloads = []
    for event in events:
        assert event.startswith("data: "), f"not an SSE data event: {event!r}"
        payloads.append(event[len("data: "):])
    return payloads


def wait_until(condition, what: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll until `condition()` holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
