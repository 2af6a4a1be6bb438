"""The rendered model preparation runs in its own container for both formats, and the model it prepares is served.

For GGUF and for ONNX, the images of the rendered Compose project are built from their rendered Dockerfiles and the
project is brought up as Compose would: the preparation step (any `<name>-model-*` service the runtime waits on)
downloads the tiny Hugging Face checkpoint at its pinned revision, converts it (GGUF: the llama.cpp converter and
llama-quantize at q4_k_m; ONNX: the model builder at int4 for the CPU provider) and records it in the model volume;
then the rendered llama.cpp or ONNX Runtime service serves it behind the rendered gateway, which answers chat,
plain and streamed, with the API key and refuses requests without one.

What is stood in, and why:
- the base images are the suite's debootstrap bookworm and the llama.cpp server stand-in (nothing can be pulled);
- torch is the CPU wheel the test environment installed, served on loopback through the Dockerfiles' own
  TORCH_FIND_LINKS build argument (tests/support/torch_wheel.py);
- the `llamacpp` stage of the GGUF preparation Dockerfile is replaced by the tools of the suite's cached build of the
  same pinned source (tests/support/llamacpp_tools.py says why); every other stage is built as rendered;
- the hub is tests/support/fake_hub.py in a container of the project, added with a test-only Compose override
  (test.override.yaml) that also points HF_ENDPOINT of the preparation services at it, and probes the serving
  services' (and the egress proxy's) own healthchecks every 2 s instead of every 30 s (which would cost a minute
  per project in CI). The fake hub speaks plain HTTP on the download network itself, so the download reaches it
  without the rendered egress proxy (which only tunnels TLS to the real hub's names); test_egress_proxy.py proves
  the proxy, which still builds from its rendered Dockerfile and must be healthy before the download starts.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import tests.support.fake_hub
from tests.integration.compose_projects import Project, containers_by_service, running_project
from tests.integration.model_preparation import (
    PREPARATIONS,
    REPO,
    REVISION,
    build_options,
    is_preparation_service,
    project_name,
    write_spec,
)
from tests.integration.stacks import RenderedStack, free_loopback_port, http, render_and_build
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker
from tests.support.llamacpp_build import LlamaCppBuild
from tests.support.llamacpp_image import StandInImage
from tests.support.llamacpp_tools import tools_image, with_stage_replaced
from tests.support.tiny_gguf import write_sentencepiece_llama
from tests.support.tiny_model import write_hf_model
from tests.support.torch_wheel import served_torch_wheel

CHECKPOINTS = {"gguf": write_sentencepiece_llama, "onnx": write_hf_model}
"""Per format: the tiny checkpoint its converter accepts."""
SERVED_FILE = {"gguf": "./tiny-chat-q4_k_m.gguf", "onnx": "./genai_config.json"}
"""The file each runtime is started on, which the preparation's record lists."""
HUB, HUB_PORT = "hub", 8000
DOWNLOAD_NETWORK = "model-download"
PORTS = {fmt: free_loopback_port() for fmt in PREPARATIONS}


def replace_llamacpp_stage(build: LlamaCppBuild):
    """Stand the cached build's tools in for the rendered GGUF preparation image's `llamacpp` stage."""
    def edit(bundle: Path) -> None:
        for dockerfile in bundle.glob("docker/*-model-*/Dockerfile"):
            text = dockerfile.read_text()
            if " AS llamacpp\n" in text:
                dockerfile.write_text(with_stage_replaced(text, tools_image(build)))
    return edit


def preparation_services(stack: RenderedStack, fmt: str) -> list[str]:
    """The rendered project's preparation services (one, or a download step and a conversion step)."""
    document = yaml.safe_load((stack.bundle / "compose" / "compose.yaml").read_text())
    found = sorted(service for service in document["services"] if is_preparation_service(service, fmt))
    assert found, "the rendered project has no model preparation service"
    return found


def compose_override(stack: RenderedStack, fmt: str, checkpoint: Path, base: BaseImage) -> dict:
    """The test-only Compose override: the fake hub on the preparation's download network, the preparation services
    pointed at it (once it answers), and the serving services' rendered healthchecks probed every 2 s, not 30 s."""
    probe = f"import urllib.request;urllib.request.urlopen('http://127.0.0.1:{HUB_PORT}/api/models/{REPO}/revision/{REVISION}')"
    hub = {"image": base.local_tag, "read_only": True, "networks": [DOWNLOAD_NETWORK],
           "command": ["python3", "/hub/fake_hub.py", "/checkpoint", REPO, REVISION, str(HUB_PORT)],
           "volumes": [f"{Path(tests.support.fake_hub.__file__).resolve()}:/hub/fake_hub.py:ro",
                       f"{checkpoint}:/checkpoint:ro"],
           "healthcheck": {"test": ["CMD", "python3", "-c", probe], "interval": "2s", "retries": 30}}
    steps = {service: {"environment": {"HF_ENDPOINT": f"http://{HUB}:{HUB_PORT}"},
                       "depends_on": {HUB: {"condition": "service_healthy"}}}
             for service in preparation_services(stack, fmt)}
    serving = {service: {"healthcheck": {"interval": "2s"}}
               for service in {*long_running(fmt), f"{project_name(fmt)}-egress-proxy"}}
    return {"services": {HUB: hub, **steps, **serving}}


def long_running(fmt: str) -> set[str]:
    """The services that stay up: the runtime and the gateway."""
    return {project_name(fmt), f"{project_name(fmt)}-gateway"}


@pytest.fixture(scope="module")
def prep_stacks(llamacpp: LlamaCppBuild, llamacpp_image: StandInImage, base_image: BaseImage,
                host_ca_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedStack]:
    """Both formats' stacks, built one after the other while the torch wheel is served: the torch layer is built
    once and shared, and builds that need the fixed port wait for each other across the machine."""
    stacks = {}
    with served_torch_wheel() as wheels:
        for fmt in PREPARATIONS:
            folder = tmp_path_factory.mktemp(f"prep-{fmt}")
            bases = {"python": base_image.reference, "debian": base_image.reference,  # debian: the egress proxy
                     **({"llamacpp": llamacpp_image.reference} if fmt == "gguf" else {})}
            stacks[fmt] = render_and_build(write_spec(folder, fmt, bases, PORTS[fmt]), folder / "bundle",
                                           host_ca_bundle, stand_ins=replace_llamacpp_stage(llamacpp),
                                           **build_options(wheels))
    return stacks


@pytest.fixture(scope="module", params=sorted(PREPARATIONS))
def served(request: pytest.FixtureRequest, prep_stacks: dict[str, RenderedStack], base_image: BaseImage,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RenderedStack, Project]]:
    """The format's project up: the hub, the preparation run to completion, the runtime and gateway healthy."""
    fmt = request.param
    stack = prep_stacks[fmt]
    checkpoint = tmp_path_factory.mktemp(f"checkpoint-{fmt}") / "hf"
    checkpoint.mkdir()
    CHECKPOINTS[fmt](checkpoint)
    with running_project(stack, tmp_path_factory.mktemp(f"prep-{fmt}-up") / "bundle", long_running(fmt),
                         override=compose_override(stack, fmt, checkpoint, base_image)) as project:
        yield fmt, stack, project


def test_the_preparation_ran_in_its_container_and_recorded_the_model(served: tuple) -> None:
    fmt, stack, project = served
    every = containers_by_service(project, every=True)
    for service in preparation_services(stack, fmt):
        state = every[service]["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), docker("logs", "--tail", "40", every[service]["Id"])
    runtime = every[project_name(fmt)]["Id"]
    listed = [line.split("  ", 1)[1] for line in docker("exec", runtime, "cat", f"/models/{fmt}/SHA256SUMS").splitlines()]
    assert f"revision={REVISION}" in docker("exec", runtime, "cat", f"/models/{fmt}/PROVENANCE").splitlines()
    assert SERVED_FILE[fmt] in listed


def chat(project: Project, fmt: str, **extra: object) -> tuple[int, bytes]:
    """One chat request to the model the gateway lists, with the project's API key."""
    base, auth = f"http://127.0.0.1:{PORTS[fmt]}/v1", {"Authorization": f"Bearer {project.api_key}"}
    status, body = http("GET", f"{base}/models", headers=auth)
    assert status == 200, body
    return http("POST", f"{base}/chat/completions", {
        "model": json.loads(body)["data"][0]["id"], "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 8, "temperature": 0, **extra}, headers=auth)


def test_the_prepared_model_answers_chat_through_the_gateway(served: tuple) -> None:
    fmt, _, project = served
    status, body = chat(project, fmt)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["role"] == "assistant" and 0 < answer["usage"]["completion_tokens"] <= 8


def test_the_prepared_model_streams_chat_through_the_gateway(served: tuple) -> None:
    fmt, _, project = served
    status, body = chat(project, fmt, stream=True)
    events = [line.removeprefix("data: ") for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]", body
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_a_request_without_a_valid_key_is_refused(served: tuple) -> None:
    fmt, _, _ = served
    request = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
    url = f"http://127.0.0.1:{PORTS[fmt]}/v1/chat/completions"
    assert http("POST", url, request)[0] == 401
    assert http("POST", url, request, headers={"Authorization": f"Bearer {secrets.token_hex(24)}"})[0] == 401
