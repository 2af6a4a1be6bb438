"""The pod harness catches what a kubelet would: each deliberately broken copy of a rendered pod fails, while
the rendered pod itself passes. Also: the rendered ONNX server and gateway pods start with every probe passing,
their drains end within seconds with idle keep-alive connections open, and the server's drain waits for the
requests it holds."""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slm_deploy.render.kubernetes.probes import ENDPOINT_SETTLE_SECONDS
from tests.integration.clients import (REPLY_WAIT_SECONDS, Reply, chat_in_background, idle_keep_alive,
                                       terminate_while_serving, url)
from tests.integration.stacks import ONNX_K8S_NAME, ONNX_PATH, RenderedStack, http
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker
from tests.support.kubelet import Cluster, Pod, PodFailed, load_objects

READY_SECONDS = 180
IDLE_DRAIN_SECONDS = 15
GATEWAY = f"{ONNX_K8S_NAME}-gateway"
CACHE_WRITER = (
    "import http.server,os,pathlib\n"
    "cache=pathlib.Path(os.environ['XDG_CACHE_HOME'])/'server'\n"
    "cache.mkdir(parents=True,exist_ok=True)\n"
    "(cache/'state').write_text('warm')\n"
    "class Health(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200);self.end_headers();self.wfile.write(b'ok')\n"
    "http.server.ThreadingHTTPServer(('0.0.0.0',8080),Health).serve_forever()\n"
)
"""A server that writes its cache under XDG_CACHE_HOME before it listens, as many runtimes do."""


@pytest.fixture
def cluster(onnx_kubernetes_stack: RenderedStack, base_image: BaseImage) -> Iterator[Cluster]:
    objects = load_objects(onnx_kubernetes_stack.bundle / "kubernetes")
    with Cluster(objects, sandbox_image=base_image.local_tag,
                 secrets={"api-keys": {"api-keys": f"harness:{secrets.token_hex(24)}\n"}}) as made:
        yield made


def gateway_pod_spec(cluster: Cluster) -> dict[str, Any]:
    return copy.deepcopy(cluster.workload("Deployment", GATEWAY)["spec"]["template"]["spec"])


STARTUP_FAILURES = 30
"""A 30 s startup budget at a 1 s period: room for a loaded machine, short enough to fail fast."""


def quick_probes(container: dict[str, Any]) -> None:
    """Same probes, on a test-sized schedule (1 s period; startup gets 30 s, the others 3 failures)."""
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        container[kind] |= {"periodSeconds": 1, "failureThreshold": STARTUP_FAILURES if kind == "startupProbe" else 3}


def test_the_rendered_gateway_pod_passes_its_probes(cluster: Cluster) -> None:
    spec = gateway_pod_spec(cluster)
    quick_probes(spec["containers"][0])
    pod = cluster.run_pod(cluster.workload("Deployment", GATEWAY), spec)
    pod.wait_ready(READY_SECONDS)


@pytest.mark.parametrize("probe_change", [{"port": 8081}, {"path": "/no-such-health"}], ids=["port", "path"])
def test_a_probe_on_the_wrong_port_or_path_fails_the_pod(cluster: Cluster, probe_change: dict) -> None:
    spec = gateway_pod_spec(cluster)
    container = spec["containers"][0]
    quick_probes(container)
    container["startupProbe"]["httpGet"] |= probe_change
    pod = cluster.run_pod(cluster.workload("Deployment", GATEWAY), spec)
    with pytest.raises(PodFailed, match=f"startup probe failed {STARTUP_FAILURES} times"):
        pod.wait_ready(READY_SECONDS)


def cache_writer_pod(cluster: Cluster, *, cache_volume: bool) -> Pod:
    """The rendered gateway pod running CACHE_WRITER, with or without its rendered cache volume."""
    spec = gateway_pod_spec(cluster)
    container = spec["containers"][0]
    quick_probes(container)
    container["command"] = ["python3", "-c", CACHE_WRITER]
    if not cache_volume:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "cache"]
    return cluster.run_pod(cluster.workload("Deployment", GATEWAY), spec)


def test_a_server_that_writes_its_cache_runs_with_the_rendered_cache_volume(cluster: Cluster) -> None:
    cache_writer_pod(cluster, cache_volume=True).wait_ready(READY_SECONDS)


def test_a_server_that_cannot_write_its_cache_under_a_read_only_root_fails(cluster: Cluster) -> None:
    pod = cache_writer_pod(cluster, cache_volume=False)
    with pytest.raises(PodFailed, match="Read-only file system"):
        pod.wait_ready(READY_SECONDS)


def test_a_drain_that_never_ends_is_cut_off_at_the_grace_period(cluster: Cluster) -> None:
    spec = gateway_pod_spec(cluster)
    container = spec["containers"][0]
    quick_probes(container)
    drain = container["lifecycle"]["preStop"]["exec"]["command"]
    # The rendered drain (python3 -c SCRIPT URL SETTLE BUDGET GAUGE...), waiting on a gauge that stays above zero
    # (the number of API keys loaded), with a short grace period.
    url, _, budget = drain[3:6]
    assert url.endswith("/metrics"), drain
    container["lifecycle"]["preStop"]["exec"]["command"] = [*drain[:3], url, "0", budget, "slm_gateway_keys_loaded"]
    spec["terminationGracePeriodSeconds"] = 6
    pod = cluster.run_pod(cluster.workload("Deployment", GATEWAY), spec)
    pod.wait_ready(READY_SECONDS)
    (result,) = pod.terminate().values()
    assert not result.prestop_finished and result.prestop_seconds >= 6, result
    assert any("FailedPreStopHook" in event for event in pod.events), pod.events


def seed_onnx_claim(cluster: Cluster, model: Path, base: BaseImage) -> None:
    """What the download Job leaves: the model folder where the server reads it, and the Job's ready marker."""
    job = next(o for o in cluster.objects if o["kind"] == "Job")
    mark = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "mark-ready")
    marker = re.search(r":\s*>\s*(\S+)", mark["command"][-1]).group(1)
    claim = job["spec"]["template"]["spec"]["volumes"]
    claim_name = next(v["persistentVolumeClaim"]["claimName"] for v in claim if "persistentVolumeClaim" in v)
    script = (f"mkdir -p /models/onnx/{ONNX_PATH} {Path(marker).parent} && cp -r /seed/. /models/onnx/{ONNX_PATH}/ "
              f"&& touch {marker}")
    docker("run", "--rm", "--network", "none", "--user", "0:0",
           "--mount", f"type=volume,source={cluster.claims[claim_name]},target=/models",
           "--mount", f"type=bind,source={model},target=/seed,readonly", base.local_tag, "sh", "-c", script)


@pytest.fixture
def onnx_pods(cluster: Cluster, tiny_model: Path, base_image: BaseImage) -> tuple[Pod, Pod]:
    """The ONNX server and gateway pods as rendered, ready, with the model where the Job would leave it."""
    seed_onnx_claim(cluster, tiny_model, base_image)
    runtime = cluster.run_pod(cluster.workload("Deployment", ONNX_K8S_NAME))
    gateway = cluster.run_pod(cluster.workload("Deployment", GATEWAY))
    runtime.wait_ready(READY_SECONDS)
    gateway.wait_ready(READY_SECONDS)
    return runtime, gateway


def test_the_onnx_server_and_gateway_pods_start_and_drain_idle_connections_quickly(
        onnx_pods: tuple[Pod, Pod]) -> None:
    runtime, gateway = onnx_pods
    held = idle_keep_alive(runtime, "/health") + idle_keep_alive(gateway, "/healthz")
    try:
        for pod in (gateway, runtime):
            (result,) = pod.terminate().values()
            assert result.prestop_outcome.ok and result.prestop_seconds < IDLE_DRAIN_SECONDS, (result, pod.describe())
    finally:
        for connection in held:
            connection.close()


def story(model: str) -> dict:
    """A greedy reply as long as the context allows (the server clamps max_tokens to the room left); greedy, so
    every copy takes as long as the one measured."""
    return {"model": model, "messages": [{"role": "user", "content": "Tell a long story."}],
            "max_tokens": 4096, "temperature": 0}


def batch_seconds(chat_url: str, body: dict, slots: int) -> float:
    """How long a full set of slots takes to answer, after one warm-up reply: the server's real throughput under
    the pod's CPU limit (one reply alone overstates it when the first pays for loading, understates it when
    generations share the CPU)."""
    status, answer = http("POST", chat_url, body)
    assert status == 200, answer[:300]
    replies: list[Reply] = []
    started = time.monotonic()
    for sender in [chat_in_background(chat_url, "unused", body, replies) for _ in range(slots)]:
        sender.join(REPLY_WAIT_SECONDS)
    assert [reply.status for reply in replies] == [200] * slots, [r.body[:200] for r in replies]
    return time.monotonic() - started


def test_the_onnx_server_drain_waits_for_requests_in_flight(onnx_pods: tuple[Pod, Pod]) -> None:
    """Every generation slot is busy and more requests wait for one: the drain lasts until the last has its
    reply. The tiny model is fast, so the server gets about three settle times of measured work (never more
    requests than its slots and queue hold, so none is refused)."""
    runtime, _ = onnx_pods
    chat_url = url(runtime, "/v1/chat/completions")
    model = json.loads(http("GET", url(runtime, "/v1/models"))[1])["data"][0]["id"]
    env = {e["name"]: e["value"] for e in runtime.spec["containers"][0]["env"]}
    slots = int(env["SLM_MAX_CONCURRENCY"])
    held = slots + int(env["SLM_MAX_QUEUE"])
    batches = math.ceil(3 * ENDPOINT_SETTLE_SECONDS / batch_seconds(chat_url, story(model), slots)) + 1
    count = min(held, slots * batches)
    _, replies = terminate_while_serving(runtime, chat_url, "unused", [story(model)] * count,
                                         url(runtime, "/metrics"),
                                         ("ortgenai_generations_running", "ortgenai_requests_waiting"))
    assert [reply.status for reply in replies] == [200] * count, [r.body[:200] for r in replies if r.status != 200]
