"""Pods from the rendered kubernetes/ folder of a llama.cpp spec, run as the kubelet runs them: the model Job
fills the cache claim, llama-server and the gateway start with every probe passing, and their preStop drains
end within seconds when only idle keep-alive connections are open but wait for a request in flight."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from slm_deploy.render.kubernetes.probes import ENDPOINT_SETTLE_SECONDS
from tests.integration.clients import idle_keep_alive
from tests.integration.stacks import LLAMA_NAME, RenderedStack, http
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker
from tests.support.kubelet import Cluster, Pod, load_objects

READY_SECONDS = 180
IDLE_DRAIN_SECONDS = 15
"""Settle time (5 s) plus one scrape, with room for a loaded machine; far from the 240 s budget."""
KEY_ID = "harness"
LONG_REQUEST_TOKENS = 4000
"""Nearly the whole context of the only slot (context_length 4096, concurrency 1)."""


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


def long_chat(base: str, api_key: str, results: list) -> threading.Thread:
    """A completion that keeps the server busy for a while (it ignores end-of-sequence)."""
    def send() -> None:
        status, body = http("POST", f"{base}/v1/chat/completions", {
            "model": "any", "messages": [{"role": "user", "content": "Tell a long story."}],
            "max_tokens": LONG_REQUEST_TOKENS, "ignore_eos": True, "temperature": 0,
        }, headers={"Authorization": f"Bearer {api_key}"}, timeout=300)
        results.append((status, body, time.monotonic()))
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def busy(url: str, names: tuple[str, ...]) -> bool:
    status, body = http("GET", url, timeout=5)
    return status == 200 and any(
        float(line.rsplit(" ", 1)[1]) > 0 for line in body.decode().splitlines()
        if line.split("{", 1)[0].split(" ", 1)[0] in names)


def test_every_probe_passes_and_chat_works_through_the_gateway_pod(llama_cluster: LlamaCluster) -> None:
    for pod in (llama_cluster.runtime, llama_cluster.gateway):
        assert all(pod.started.values()) and all(pod.ready.values()) and pod.healthy(), pod.describe()
    status, body = http("POST", f"http://{llama_cluster.gateway.ip}:8080/v1/chat/completions", {
        "model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4,
    }, headers={"Authorization": f"Bearer {llama_cluster.api_key}"})
    assert status == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant", body


def test_idle_keep_alive_connections_do_not_hold_the_drains(llama_cluster: LlamaCluster) -> None:
    held = idle_keep_alive(llama_cluster.runtime, 8080, "/health")
    held += idle_keep_alive(llama_cluster.gateway, 8080, "/healthz")
    try:
        for pod in (llama_cluster.gateway, llama_cluster.runtime):
            (result,) = pod.terminate().values()
            assert result.prestop_outcome.ok and result.prestop_seconds < IDLE_DRAIN_SECONDS, (result, pod.describe())
            assert not result.killed, result
    finally:
        for connection in held:
            connection.close()


def terminate_during_a_long_request(pod: Pod, base: str, api_key: str, metrics: str, gauge: str):
    """Start a long completion, wait until the pod's gauge shows it in flight, delete the pod, and check the
    drain outlasted the settle time and held the pod until the request had finished; returns (status, body)."""
    results: list = []
    sender = long_chat(base, api_key, results)
    deadline = time.monotonic() + 30
    while not busy(metrics, (gauge,)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not results, "the request finished before the drain could be observed; make it longer"
    stop_started = time.monotonic()
    (termination,) = pod.terminate().values()
    sender.join(60)
    status, body, finished_at = results[0]
    assert finished_at > stop_started + ENDPOINT_SETTLE_SECONDS, "the request ended before the drain polled"
    assert termination.prestop_outcome.ok and not termination.killed, termination
    assert stop_started + termination.prestop_seconds >= finished_at - 1, (termination, finished_at - stop_started)
    return status, body


def test_the_runtime_drain_waits_for_a_request_in_flight(llama_cluster: LlamaCluster) -> None:
    runtime = llama_cluster.runtime
    status, body = terminate_during_a_long_request(runtime, f"http://{runtime.ip}:8080", llama_cluster.api_key,
                                                   f"http://{runtime.ip}:8080/metrics", "llamacpp:requests_processing")
    assert status == 200 and json.loads(body)["usage"]["completion_tokens"] == LONG_REQUEST_TOKENS, body[:300]


def test_the_gateway_drain_waits_for_a_request_in_flight(llama_cluster: LlamaCluster) -> None:
    gateway = llama_cluster.gateway
    status, body = terminate_during_a_long_request(gateway, f"http://{gateway.ip}:8080", llama_cluster.api_key,
                                                   f"http://{gateway.ip}:9464/metrics", "slm_gateway_in_flight_requests")
    assert status == 200, body[:300]
