"""`slm-deploy pins` against a real registry (Debian's docker-registry) holding images this test pushes."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker, docker_build
from tests.support.registry import manifest_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Pushed:
    repository: str
    registry: str
    stable: str
    moved_from: str
    moved_to: str
    index: str
    empty_index: str


def _put_index(registry: str, repository: str, tag: str, manifests: list[dict]) -> str:
    """Push an OCI index by hand (docker push cannot make one) and return its digest."""
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}", data=body, method="PUT",
                                     headers={"Content-Type": OCI_INDEX})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _manifest_entry(registry: str, repository: str, digest: str) -> dict:
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{digest}", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return {"mediaType": response.headers["Content-Type"], "digest": digest,
                "size": int(response.headers["Content-Length"]), "platform": {"os": "linux", "architecture": "amd64"}}


@pytest.fixture(scope="module")
def pushed(base_image: BaseImage, local_registry: str, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """A stable tag, a tag moved to a rebuilt image, a one-platform index and an index with no platforms."""
    repository = f"slm-test/pins-{uuid.uuid4().hex[:8]}"
    remote = f"{local_registry}/{repository}"
    docker("tag", base_image.local_tag, f"{remote}:stable")
    docker("tag", base_image.local_tag, f"{remote}:moving")
    docker("push", f"{remote}:stable")
    docker("push", f"{remote}:moving")
    stable = manifest_digest(local_registry, repository, "stable")
    moved_from = manifest_digest(local_registry, repository, "moving")
    context = tmp_path_factory.mktemp("rebuilt")
    (context / "Dockerfile").write_text(f"FROM {base_image.reference}\nLABEL org.example.rebuilt={repository!r}\n")
    docker_build(context, f"{remote}:moving")
    docker("push", f"{remote}:moving")
    moved_to = manifest_digest(local_registry, repository, "moving")
    index = _put_index(local_registry, repository, "multi", [_manifest_entry(local_registry, repository, stable)])
    empty = _put_index(local_registry, repository, "empty", [])
    for tag in ("stable", "moving"):
        docker("rmi", f"{remote}:{tag}")
    return Pushed(repository, local_registry, stable, moved_from, moved_to, index, empty)


def write_pins(path: Path, pushed: Pushed, entries: dict[str, tuple[str, str]]) -> Path:
    lines = ["# pins under test", "pins:"]
    for key, (tag, digest) in entries.items():
        lines += [f"  {key}:  # comment on {key}", f"    image: {pushed.registry}/{pushed.repository}",
                  f"    tag: {tag}", f"    digest: {digest}", "    sources:", f"      - https://example.com/{key}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_moved_tag_really_moved(pushed: Pushed) -> None:
    assert pushed.moved_from == pushed.stable and pushed.moved_to != pushed.moved_from


def test_check_passes_when_every_tag_serves_its_digest(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"stable": ("stable", pushed.stable),
                                                       "multi": ("multi", pushed.index)})
    result = run_cli("pins", "--check", "--file", str(pins))
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.count("ok ") == 2


def test_check_reports_drift_with_exit_one(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"stable": ("stable", pushed.stable),
                                                       "moving": ("moving", pushed.moved_from)})
    before = pins.read_text()
    result = run_cli("pins", "--check", "--file", str(pins))
    assert result.code == 1
    assert f"{pushed.moved_from} -> {pushed.moved_to}" in result.stdout
    assert pins.read_text() == before


def test_update_rewrites_only_the_moved_digest(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"stable": ("stable", pushed.stable),
                                                       "moving": ("moving", pushed.moved_from)})
    before = pins.read_text()
    result = run_cli("pins", "--update", "--file", str(pins))
    assert result.code == 0, result.stdout + result.stderr
    assert pins.read_text() == before.replace(f"tag: moving\n    digest: {pushed.moved_from}",
                                              f"tag: moving\n    digest: {pushed.moved_to}")
    assert run_cli("pins", "--check", "--file", str(pins)).code == 0


def test_update_refreshes_the_interface_records_beside_the_pins_file(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"stable": ("stable", pushed.stable)})
    (tmp_path / "interfaces").mkdir()
    result = run_cli("pins", "--update", "--file", str(pins))
    assert result.code == 0, result.stdout + result.stderr
    assert "record written   gateway" in result.stdout and "record written   ortgenai" in result.stdout
    assert "record kept      vllm  needs a `vllm` row in the pins file" in result.stdout
    assert (tmp_path / "interfaces" / "gateway.yaml").read_text().startswith("# Generated by")
    (tmp_path / "other").mkdir()
    other = write_pins(tmp_path / "other" / "pins.yaml", pushed, {"stable": ("stable", pushed.stable)})
    assert "records: no interfaces/ folder" in run_cli("pins", "--update", "--file", str(other)).stdout


def test_update_refuses_an_index_with_zero_platforms(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"empty": ("empty", pushed.stable)})
    before = pins.read_text()
    result = run_cli("pins", "--update", "--file", str(pins))
    assert result.code == 1
    assert "zero platforms" in result.stdout
    assert pins.read_text() == before


def test_a_missing_tag_is_an_error_not_a_pass(pushed: Pushed, tmp_path: Path) -> None:
    pins = write_pins(tmp_path / "pins.yaml", pushed, {"gone": ("never-pushed", pushed.stable)})
    result = run_cli("pins", "--check", "--file", str(pins))
    assert result.code == 1 and "404" in result.stdout
