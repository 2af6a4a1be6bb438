"""Pods from the rendered kubernetes/ folder of a llama.cpp spec, run as the kubelet runs them: the model Job
fills the cache claim, llama-server and the gateway start with every probe passing, and their preStop drains
end within seconds when only idle keep-alive connections are open but wait for a request in flight."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from slm_deploy.render.kubernetes.probes import ENDPOINT_SETTLE_SECONDS
from tests.integration.clients import idle_keep_alive, terminate_while_serving, url
from tests.integration.stacks import LLAMA_NAME, RenderedStack, http
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker
from tests.support.kubelet import Cluster, Pod, load_objects

READY_SECONDS = 180
IDLE_DRAIN_SECONDS = 15
"""Settle time (5 s) plus one scrape, with room for a loaded machine; far from the 240 s budget."""
KEY_ID = "harness"
LONG_REQUEST_TOKENS = 4000
"""Nearly the whole context of the only slot (context_length 4096, concurrency 1): the most one request can take."""
SHORTEST_REQUEST_TOKENS = 500
SETTLE_TIMES_OF_WORK = 2
"""An in-flight request lasts at least this many settle times, so only the drain's polling can end it in time."""


@dataclass
class LlamaCluster:
    cluster: Cluster
    api_key: str
    runtime: Pod
    gateway: Pod


def seed_claim(cluster: Cluster, claim: str, gguf: Path, base: BaseImage) -> None:
    """What a finished download leaves in the claim; the Job then verifies it by checksum instead of fetching."""
    docker("run", "--rm", "--network", "none", "--user", "0:0",
           "--mount", f"type=volume,source={cluster.claims[claim]},target=/models",
           "--mount", f"type=bind,source={gguf.parent},target=/seed,readonly",
           base.local_tag, "sh", "-c", f"mkdir -p /models/gguf && cp /seed/{gguf.name} /models/gguf/")


@pytest.fixture
def llama_cluster(llamacpp_stack: RenderedStack, tiny_gguf: Path, base_image: BaseImage) -> Iterator[LlamaCluster]:
    api_key = secrets.token_hex(24)
    objects = load_objects(llamacpp_stack.bundle / "kubernetes")
    with Cluster(objects, sandbox_image=base_image.local_tag,
                 secrets={"api-keys": {"api-keys": f"{KEY_ID}:{api_key}\n"}}) as cluster:
        seed_claim(cluster, f"{LLAMA_NAME}-models", tiny_gguf, base_image)
        job = next(o for o in objects if o["kind"] == "Job")
        cluster.run_job(job)
        runtime = cluster.run_pod(cluster.workload("Deployment", LLAMA_NAME))
        gateway = cluster.run_pod(cluster.workload("Deployment", f"{LLAMA_NAME}-gateway"))
        runtime.wait_ready(READY_SECONDS)
        gateway.wait_ready(READY_SECONDS)
        yield LlamaCluster(cluster, api_key, runtime, gateway)


def test_every_probe_passes_and_chat_works_through_the_gateway_pod(llama_cluster: LlamaCluster) -> None:
    for pod in (llama_cluster.runtime, llama_cluster.gateway):
        assert all(pod.started.values()) and all(pod.ready.values()) and pod.healthy(), pod.describe()
    status, body = http("POST", url(llama_cluster.gateway, "/v1/chat/completions"), {
        "model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4,
    }, headers={"Authorization": f"Bearer {llama_cluster.api_key}"})
    assert status == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant", body


def test_idle_keep_alive_connections_do_not_hold_the_drains(llama_cluster: LlamaCluster) -> None:
    held = idle_keep_alive(llama_cluster.runtime, "/health") + idle_keep_alive(llama_cluster.gateway, "/healthz")
    try:
        for pod in (llama_cluster.gateway, llama_cluster.runtime):
            (result,) = pod.terminate().values()
            assert result.prestop_outcome.ok and result.prestop_seconds < IDLE_DRAIN_SECONDS, (result, pod.describe())
            assert not result.killed, result
    finally:
        for connection in held:
            connection.close()


def long_chat(tokens: int) -> dict:
    """A completion of exactly `tokens` tokens that keeps the only slot busy: it ignores end-of-sequence
    (llama.cpp's `ignore_eos`)."""
    return {"model": "any", "messages": [{"role": "user", "content": "Tell a long story."}],
            "max_tokens": tokens, "ignore_eos": True, "temperature": 0}


def reply_seconds(llama_cluster: LlamaCluster, tokens: int) -> float:
    """How long the runtime takes to answer a request for `tokens` tokens."""
    started = time.monotonic()
    status, body = http("POST", url(llama_cluster.runtime, "/v1/chat/completions"), long_chat(tokens),
                        headers={"Authorization": f"Bearer {llama_cluster.api_key}"})
    assert status == 200, body[:300]
    return time.monotonic() - started


def tokens_for_the_drain(llama_cluster: LlamaCluster) -> int:
    """The fewest tokens, doubling from SHORTEST_REQUEST_TOKENS up to LONG_REQUEST_TOKENS, whose reply takes
    SETTLE_TIMES_OF_WORK settle times on this machine; each token costs more as the reply grows, so the count is
    found by trying rather than from one rate. terminate_while_serving still fails if the work ends too early."""
    tokens = SHORTEST_REQUEST_TOKENS
    while tokens < LONG_REQUEST_TOKENS and reply_seconds(llama_cluster, tokens) < (
            SETTLE_TIMES_OF_WORK * ENDPOINT_SETTLE_SECONDS):
        tokens = min(LONG_REQUEST_TOKENS, 2 * tokens)
    return tokens


def test_the_runtime_drain_waits_for_a_request_in_flight(llama_cluster: LlamaCluster) -> None:
    runtime = llama_cluster.runtime
    tokens = tokens_for_the_drain(llama_cluster)
    _, (reply,) = terminate_while_serving(
        runtime, url(runtime, "/v1/chat/completions"), llama_cluster.api_key, [long_chat(tokens)],
        url(runtime, "/metrics"), ("llamacpp:requests_processing",))
    assert reply.status == 200, reply.body[:300]
    assert json.loads(reply.body)["usage"]["completion_tokens"] == tokens, reply.body[:300]


def test_the_gateway_drain_waits_for_a_request_in_flight(llama_cluster: LlamaCluster) -> None:
    gateway = llama_cluster.gateway
    tokens = tokens_for_the_drain(llama_cluster)
    _, (reply,) = terminate_while_serving(
        gateway, url(gateway, "/v1/chat/completions"), llama_cluster.api_key, [long_chat(tokens)],
        url(gateway, "/metrics", "metrics"), ("slm_gateway_in_flight_requests",))
    assert reply.status == 200, reply.body[:300]
    assert json.loads(reply.body)["usage"]["completion_tokens"] == tokens, reply.body[:300]
