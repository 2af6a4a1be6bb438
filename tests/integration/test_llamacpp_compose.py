"""The rendered Compose project of a llama.cpp spec serves for real: llama-server built from the pinned build's
source, in a stand-in of the pinned image, behind the gateway; and the metrics that autoscaling and the
Kubernetes drain read are ones the running server really exports."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.monitoring.vocabulary import GATEWAY_UPSTREAM_WAITING, RUNTIME_METRICS

from tests.integration.compose_projects import (
    APP_UID, Project, containers_by_service, health_of, make_project_volume, running_project,
)
from tests.integration.stacks import LLAMA_GATEWAY_PORT, LLAMA_NAME, RenderedStack, http
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker
from tests.support.kubelet import load_objects

RUNTIME, GATEWAY, PREP = LLAMA_NAME, f"{LLAMA_NAME}-gateway", f"{LLAMA_NAME}-model-prep"
PROXY = f"{LLAMA_NAME}-egress-proxy"
BASE = f"http://127.0.0.1:{LLAMA_GATEWAY_PORT}"
METRIC_NAME = re.compile(r"([a-zA-Z_][a-zA-Z0-9_:]*)\{")
DRAIN_METRIC = re.compile(r"(?:llamacpp:|slm_gateway_)[a-z_]+")
"""Metric names in a preStop drain's arguments (the script itself, argument 3, names none)."""


def seed_model_volume(gguf: Path, base: BaseImage):
    """Put the GGUF where the model-preparation step looks (so it verifies the checksum instead of downloading)."""
    def seed(project: Project) -> None:
        script = (f"mkdir -p /models/gguf && cp /seed/{gguf.name} /models/gguf/ "
                  f"&& chown -R {APP_UID}:{APP_UID} /models && chmod -R u=rwX,g=rX,o= /models")
        docker("run", "--rm", "--network", "none", "--user", "0:0",
               "--mount", f"type=volume,source={make_project_volume(project, 'models')},target=/models",
               "--mount", f"type=bind,source={gguf.parent},target=/seed,readonly",
               base.local_tag, "sh", "-c", script)
    return seed


@pytest.fixture(scope="module")
def project(llamacpp_stack: RenderedStack, tiny_gguf: Path, base_image: BaseImage,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("llamacpp-compose") / "bundle"
    with running_project(llamacpp_stack, folder, {RUNTIME, GATEWAY}, seed_model_volume(tiny_gguf, base_image)) as up:
        yield up


def scrape(project: Project, service: str, url: str) -> str:
    """The Prometheus text a service serves, read from inside its own container (the runtime has no published port)."""
    container = containers_by_service(project)[service]["Id"]
    if service == RUNTIME:
        return docker("exec", container, "curl", "-fsS", url)
    return docker("exec", container, "python3", "-c",
                  "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]).read().decode())", url)


def samples(text: str) -> set[str]:
    """Names of the samples in a Prometheus text exposition."""
    return {line.split("{", 1)[0].split(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def families(text: str) -> set[str]:
    """Every metric a Prometheus text exposition declares, including labelled ones with no sample yet."""
    return samples(text) | {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_model_preparation_verified_the_file_and_the_services_are_healthy(project: Project) -> None:
    every = containers_by_service(project, every=True)
    assert every[PREP]["State"]["Status"] == "exited" and every[PREP]["State"]["ExitCode"] == 0
    assert health_of(project) == {RUNTIME: "healthy", GATEWAY: "healthy", PREP: "exited", PROXY: "healthy"}


def test_the_runtime_is_the_pinned_build(project: Project, llamacpp) -> None:
    container = containers_by_service(project)[RUNTIME]
    assert container["Config"]["User"] == f"{APP_UID}:{APP_UID}" and container["HostConfig"]["ReadonlyRootfs"]
    version = docker("exec", container["Id"], "sh", "-c", "/app/llama-server --version 2>&1")
    assert f"version: {llamacpp.build_number} ({llamacpp.commit[:7]})" in version


def test_chat_completion_through_the_gateway(project: Project) -> None:
    auth = {"Authorization": f"Bearer {project.api_key}"}
    status, body = http("GET", f"{BASE}/v1/models", headers=auth)
    assert status == 200, body
    model = json.loads(body)["data"][0]["id"]
    status, body = http("POST", f"{BASE}/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "temperature": 0,
    }, headers=auth)
    answer = json.loads(body)
    assert status == 200, body
    assert answer["choices"][0]["message"]["role"] == "assistant" and 0 < answer["usage"]["completion_tokens"] <= 8


def test_streamed_chat_completion_through_the_gateway(project: Project) -> None:
    auth = {"Authorization": f"Bearer {project.api_key}"}
    status, body = http("POST", f"{BASE}/v1/chat/completions", {
        "model": "any", "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
        "max_tokens": 8, "temperature": 0, "stream": True,
    }, headers=auth)
    events = [line.removeprefix("data: ") for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]", body
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_requests_without_a_valid_key_are_refused(project: Project) -> None:
    request = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
    assert http("POST", f"{BASE}/v1/chat/completions", request)[0] == 401
    wrong = {"Authorization": f"Bearer {secrets.token_hex(24)}"}
    assert http("POST", f"{BASE}/v1/chat/completions", request, headers=wrong)[0] == 401


def test_the_metrics_autoscaling_and_drains_read_are_exported(project: Project, llamacpp_stack: RenderedStack) -> None:
    """KEDA's queries need a sample to read; a drain sums the samples it finds, so a labelled gauge with no
    sample yet (no request has queued) reads as zero, which is what it means."""
    objects = load_objects(llamacpp_stack.bundle / "kubernetes")
    queries = [t["metadata"]["query"] for o in objects if o["kind"] == "ScaledObject" for t in o["spec"]["triggers"]]
    scaled_on = {name for query in queries for name in METRIC_NAME.findall(query)}
    drained_on = set()
    for workload in (o for o in objects if o["kind"] == "Deployment"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            drain = container["lifecycle"]["preStop"]["exec"]["command"]
            drained_on |= set(DRAIN_METRIC.findall(" ".join(drain[3:])))
    runtime = scrape(project, RUNTIME, "http://127.0.0.1:8080/metrics")
    gateway = scrape(project, GATEWAY, "http://127.0.0.1:9464/metrics")
    assert scaled_on == {"slm:requests_waiting", GATEWAY_UPSTREAM_WAITING}  # the recorded queue and the wake hold
    queue = {metric.name for metric in RUNTIME_METRICS["llamacpp"]["requests_waiting"]}
    assert queue <= samples(runtime), f"slm:requests_waiting is recorded from series the server does not expose: {queue}"
    assert GATEWAY_UPSTREAM_WAITING in samples(gateway), "the gateway's wake signal has no sample for KEDA to read"
    assert drained_on >= {"llamacpp:requests_deferred", "llamacpp:requests_processing", "slm_gateway_in_flight_requests"}
    declared = families(runtime) | families(gateway)
    assert drained_on <= declared, f"drains read metrics nothing exports: {sorted(drained_on - declared)}"


def test_the_record_lists_exactly_the_metric_families_the_server_exports(project: Project) -> None:
    record = yaml.safe_load((Path(__file__).resolve().parents[2] / "components" / "runtimes" / "interfaces"
                             / "llamacpp.yaml").read_text())
    exported = samples(scrape(project, RUNTIME, "http://127.0.0.1:8080/metrics"))
    assert exported == set(record["metrics"])
