"""`slm-deploy build --push` on a rendered bundle: real BuildKit builds pushed to the local registry, and every
path (kubectl apply -k, docker compose) then pulls exactly the digests the registry serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.policies.built_images import MANIFEST, built_images
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import load_deployment
from tests.cli.test_build_pinning import spec_file
from tests.conftest import run_cli
from tests.support.base_image import BaseImage
from tests.support.cache import exclusive
from tests.support.docker_engine import docker_cli
from tests.support.judges import compose_config, describe, kustomize_build
from tests.support.registry import manifest_digest

REPOSITORY_PATH = "build-push"


@pytest.fixture(scope="module")
def pushed_bundle(base_image: BaseImage, local_registry: str, host_ca_bundle: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Compose + Kubernetes ONNX bundle rendered on the suite's base image, then built, pushed and pinned."""
    folder = tmp_path_factory.mktemp("build-push")
    spec = spec_file(folder, registry=f"{local_registry}/{REPOSITORY_PATH}", python_image=base_image.reference)
    data = yaml.safe_load(spec.read_text())
    data["monitoring"] = {"enabled": False}  # the monitoring images need their own stand-in bases
    spec.write_text(yaml.safe_dump(data, sort_keys=True))
    bundle = folder / "bundle"
    write_bundle(render_bundle(load_deployment(spec)), bundle)
    shutil.copytree(bundle, folder / "pre-build")
    with pytest.MonkeyPatch.context() as patch, exclusive("build-push-bundle"):
        patch.setenv("SLM_DEPLOY_DOCKER", docker_cli())
        result = run_cli("build", str(bundle), "--push", "--ca-bundle", str(host_ca_bundle))
    assert result.code == 0, result.stdout + result.stderr
    return bundle


def registry_digest(local_registry: str, name: str) -> str:
    """The digest the registry serves for a built image's tag, asked over the registry API."""
    repository, tag = name.removeprefix(f"{local_registry}/").rsplit(":", 1)
    digest = manifest_digest(local_registry, repository, tag)
    assert digest is not None, f"{name} is not in the registry"
    return digest


def test_every_built_image_is_recorded_with_the_digest_the_registry_serves(pushed_bundle: Path,
                                                                           local_registry: str) -> None:
    images = built_images(json.loads((pushed_bundle / MANIFEST).read_text()))
    assert {i.owner for i in images} == {p.name for p in (pushed_bundle / "docker").iterdir()}
    assert len(images) >= 3  # the ONNX server, the gateway and the smoke checks
    for image in images:
        assert image.digest == registry_digest(local_registry, image.name)


def test_kustomize_output_pulls_every_built_image_by_digest(pushed_bundle: Path) -> None:
    images = built_images(json.loads((pushed_bundle / MANIFEST).read_text()))
    expected = {f"{i.name.rsplit(':', 1)[0]}@{i.digest}" for i in images}
    pulled = set()
    for folder in (pushed_bundle / "kubernetes", pushed_bundle / "kubernetes" / "smoke"):
        for obj in kustomize_build(folder):
            template = obj.get("spec", {}).get("template", {}).get("spec", {})
            for container in template.get("containers", []) + template.get("initContainers", []):
                pulled.add(container["image"])
    built = {ref for ref in pulled if "/slm-deploy/" in ref}
    assert built == expected, f"kustomize renders {sorted(built)}"


def test_compose_pulls_every_built_image_by_digest(pushed_bundle: Path) -> None:
    images = built_images(json.loads((pushed_bundle / MANIFEST).read_text()))
    project = yaml.safe_load((pushed_bundle / "compose" / "compose.yaml").read_text())
    refs = {service["image"] for service in project["services"].values() if "/slm-deploy/" in service["image"]}
    assert refs == {f"{i.name}@{i.digest}" for i in images}
    assert not any("build" in service for service in project["services"].values())
    assert compose_config(pushed_bundle / "compose") == [], describe(compose_config(pushed_bundle / "compose"))


def test_check_accepts_the_pinned_and_the_pre_build_bundle_only(pushed_bundle: Path) -> None:
    assert run_cli("check", str(pushed_bundle)).code == 0
    assert run_cli("check", str(pushed_bundle.parent / "pre-build")).code == 0
    half = pushed_bundle.parent / "half-pinned"
    shutil.copytree(pushed_bundle.parent / "pre-build", half, dirs_exist_ok=True)
    shutil.copy(pushed_bundle / "compose" / "compose.yaml", half / "compose" / "compose.yaml")
    report = json.loads(run_cli("check", str(half), "--format", "json").stdout)
    assert any(f["rule"] == "slm-serving-004" and f["location"] == "compose/compose.yaml" for f in report["findings"])
