"""The pins file rewrite keeps everything but the digests, and the registry client follows the token flow."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from slm_deploy.pins.check import check_pins
from slm_deploy.pins.registry import RegistryClient, RegistryProblem
from slm_deploy.pins.table import PinsFileError, read_pins, rewrite_digests
from slm_deploy.pins.registry import split_image
from tests.conftest import run_cli

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
PINS = f"""# header comment
pins:
  first:  # single source
    image: docker.io/library/python
    tag: 3.12-slim
    digest: {OLD}
    sources:
      - https://example.com/a
  second:
    image: ghcr.io/org/tool
    tag: v1
    digest: {OLD}  # keep me
    sources: []
"""
INDEX = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": NEW, "size": 1,
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": NEW, "size": 1,
     "platform": {"os": "unknown", "architecture": "unknown"}},
]}


def test_rewrite_changes_only_the_named_digest_lines() -> None:
    rewritten = rewrite_digests(PINS, {"second": NEW})
    assert rewritten == PINS.replace(f"digest: {OLD}  # keep me", f"digest: {NEW}  # keep me")
    assert rewrite_digests(PINS, {}) == PINS


def test_rewrite_refuses_an_unknown_entry() -> None:
    with pytest.raises(PinsFileError, match="missing-entry"):
        rewrite_digests(PINS, {"missing-entry": NEW})


def test_read_names_the_broken_field(tmp_path: Path) -> None:
    broken = tmp_path / "pins.yaml"
    broken.write_text(PINS.replace(f"digest: {OLD}  # keep me", "digest: sha256:short"))
    with pytest.raises(PinsFileError, match=r"pins\.second\.digest"):
        read_pins(broken)


def test_shipped_table_reads() -> None:
    rows = read_pins(Path(__file__).resolve().parents[2] / "components" / "runtimes" / "pins.yaml")
    assert {"python", "vllm", "ollama", "open-webui"} <= {row.key for row in rows}


def test_docker_hub_names_get_their_defaults() -> None:
    assert split_image("docker.io/library/python") == ("docker.io", "library/python")
    assert split_image("python") == ("docker.io", "library/python")
    assert split_image("127.0.0.1:5000/slm-test/x") == ("127.0.0.1:5000", "slm-test/x")


def _registry(requests: list[httpx.Request]) -> httpx.MockTransport:
    body = json.dumps(INDEX).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "auth.example.com":
            assert request.url.params["scope"] == "repository:library/python:pull"
            assert request.url.params["service"] == "registry.example"
            return httpx.Response(200, json={"token": "anonymous-token"})
        if request.headers.get("Authorization") != "Bearer anonymous-token":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example.com/token",'
                                                'service="registry.example",scope="repository:library/python:pull"'})
        assert "application/vnd.oci.image.index.v1+json" in request.headers["Accept"]
        assert "application/vnd.docker.distribution.manifest.list.v2+json" in request.headers["Accept"]
        return httpx.Response(200, content=body, headers={
            "Content-Type": INDEX["mediaType"], "Docker-Content-Digest": "sha256:" + hashlib.sha256(body).hexdigest()})

    return httpx.MockTransport(handler)


def test_anonymous_token_flow_and_platform_count() -> None:
    requests: list[httpx.Request] = []
    with RegistryClient(httpx.Client(transport=_registry(requests))) as client:
        resolution = client.resolve("docker.io/library/python", "3.12-slim")
        client.resolve("docker.io/library/python", "3.12-slim")
    assert resolution.platforms == ("linux/amd64",)
    assert resolution.digest == "sha256:" + hashlib.sha256(json.dumps(INDEX).encode()).hexdigest()
    assert str(requests[0].url) == "https://registry-1.docker.io/v2/library/python/manifests/3.12-slim"
    assert [r.url.host for r in requests] == ["registry-1.docker.io", "auth.example.com", "registry-1.docker.io",
                                              "registry-1.docker.io"]


def test_a_digest_header_that_disagrees_with_the_body_is_refused() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, content=b"{}", headers={"Content-Type": INDEX["mediaType"], "Docker-Content-Digest": NEW}))
    with RegistryClient(httpx.Client(transport=transport)) as client, pytest.raises(RegistryProblem, match="match"):
        client.resolve("ghcr.io/org/tool", "v1")


def test_registry_problems_become_error_verdicts(tmp_path: Path) -> None:
    pins = tmp_path / "pins.yaml"
    pins.write_text(PINS)
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with RegistryClient(httpx.Client(transport=transport)) as client:
        statuses = check_pins(read_pins(pins), client)
    assert [(s.row.key, s.state) for s in statuses] == [("first", "error"), ("second", "error")]
    assert all("404" in s.detail for s in statuses)


def test_cli_exit_code_two_for_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "pins.yaml"
    broken.write_text("pins: [1, 2]\n")
    assert run_cli("pins", "--check", "--file", str(broken)).code == 2
    assert run_cli("pins", "--check", "--file", str(tmp_path / "absent.yaml")).code == 2
    assert run_cli("pins", "--check", "--update", "--file", str(broken)).code == 2
