"""Pinning a bundle to pushed digests, and `check` telling the pre-build, pinned, half-pinned and tampered states
apart; `slm-deploy build` refusing bad bundles with one message, exit 2 and nothing changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.policies.built_images import MANIFEST, built_images
from slm_deploy.render.pinning import pin_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import run_cli

REGISTRY = "registry.example.com:5000/team"
SECRET_LOOKING = "ghp_notatokenbutlookslikeone0123456789"


def spec_file(folder: Path, registry: str | None = REGISTRY, python_image: str | None = None) -> Path:
    """An ONNX deployment for Compose and Kubernetes: four images built (server, gateway, smoke, egress proxy)."""
    spec = {
        "name": "tiny-pin",
        "model": {"source": {"kind": "onnx", "repo": "slm-test/tiny-onnx", "revision": "0" * 40, "path": "cpu"},
                  "parameters_billion": 0.02, "native_context": 512, "context_length": 512},
        "runtime": {"kind": "onnxruntime", "execution_provider": "cpu"},
        "resources": {"cpu": 1},
        "targets": {"compose": {}, **({"docker": {"registry": registry}, "kubernetes": {}} if registry else {})},
        "secrets": {"api-keys": {}},
        # the egress proxy builds on the pinned Debian: the suite's bookworm base stands in for both
        **({"security": {"base_images": {"python": python_image, "debian": python_image}}} if python_image else {}),
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=True))
    return path


def fake_digest(owner: str) -> str:
    return "sha256:" + hashlib.sha256(owner.encode()).hexdigest()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A bundle in the pre-build state, as `render` writes it."""
    out = tmp_path / "bundle"
    write_bundle(render_bundle(load_deployment(spec_file(tmp_path))), out)
    return out


def read_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def pin(root: Path) -> dict[str, str]:
    """Pin the bundle on disk to made-up digests (what `build --push` does after pushing)."""
    images = built_images(json.loads((root / MANIFEST).read_text()))
    pinned = pin_bundle(read_files(root), {i.owner: fake_digest(i.owner) for i in images})
    for relative, text in pinned.items():
        (root / relative).write_text(text)
    return pinned


def workload_images(root: Path) -> list[str]:
    """Every image reference in the Kubernetes objects and the Compose services (not the kustomizations)."""
    found = []
    for path in sorted((root / "kubernetes").rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [line.split("image:", 1)[1].strip() for line in path.read_text().splitlines()
                      if line.strip().startswith("image:")]
    services = yaml.safe_load((root / "compose" / "compose.yaml").read_text())["services"]
    return found + [s["image"] for s in services.values() if "image" in s]


def digest_findings(root: Path) -> list[dict]:
    result = run_cli("check", str(root), "--format", "json")
    return [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "slm-serving-004"]


def test_render_records_every_built_image_as_not_pushed(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    images = manifest["images"]
    assert set(images) == {p.name for p in (bundle / "docker").iterdir()}
    assert all(entry["digest"] is None and entry["name"].startswith(f"{REGISTRY}/slm-deploy/")
               for entry in images.values())
    assert digest_findings(bundle) == []


def test_pinned_bundle_references_every_built_image_by_its_digest(bundle: Path) -> None:
    before = read_files(bundle)
    pinned = pin(bundle)
    images = built_images(json.loads(pinned[MANIFEST]))
    expected = {f"{i.name}@{fake_digest(i.owner)}" for i in images}
    references = workload_images(bundle)
    built_refs = [r for r in references if any(r.startswith(i.name.rsplit(":", 1)[0] + ":") for i in images)]
    assert built_refs and set(built_refs) == expected
    assert not any("src-" in r and "@sha256:" not in r for r in references)
    compose = yaml.safe_load(pinned["compose/compose.yaml"])["services"]
    assert not any("build" in service for service in compose.values())
    kustomization = yaml.safe_load(pinned["kubernetes/kustomization.yaml"])
    assert {(e["name"], e["digest"]) for e in kustomization["images"]} <= {
        (i.name.rsplit(":", 1)[0], fake_digest(i.owner)) for i in images}
    manifest = json.loads(pinned[MANIFEST])
    for relative, text in pinned.items():
        if relative != MANIFEST:
            assert manifest["files"][relative] == hashlib.sha256(text.encode()).hexdigest(), relative
    assert {r for r, t in pinned.items() if t != before[r]} >= {"compose/compose.yaml", "kubernetes/kustomization.yaml"}
    assert digest_findings(bundle) == []
    assert run_cli("check", str(bundle)).code == 0


def test_pinning_twice_replaces_the_old_digests(bundle: Path) -> None:
    pin(bundle)
    images = built_images(json.loads((bundle / MANIFEST).read_text()))
    again = pin_bundle(read_files(bundle), {i.owner: fake_digest(i.owner + "2") for i in images})
    assert all(fake_digest(i.owner) not in again["compose/compose.yaml"] for i in images)
    assert all(f"{i.name}@{fake_digest(i.owner + '2')}" in "".join(again.values()) for i in images)


def edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def gateway_deployment(root: Path) -> Path:
    return next(p for p in (root / "kubernetes").glob("deployment-*-gateway.yaml"))


def test_half_pinned_manifest_is_flagged(bundle: Path) -> None:
    pin(bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    first = sorted(manifest["images"])[0]
    manifest["images"][first]["digest"] = None
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    messages = " ".join(f["message"] for f in digest_findings(bundle))
    assert "some built images but not for" in messages
    assert run_cli("check", str(bundle)).code == 1


def test_workload_digest_changed_after_pinning_is_flagged(bundle: Path) -> None:
    pin(bundle)
    text = gateway_deployment(bundle).read_text()
    other = fake_digest("tampered")
    tampered = "\n".join(line.rsplit("@", 1)[0] + "@" + other if "image:" in line and "@sha256:" in line
                         and "gateway" in line else line for line in text.splitlines())
    gateway_deployment(bundle).write_text(tampered + "\n")
    findings = digest_findings(bundle)
    assert any("pushed digest manifest.json records" in f["message"] for f in findings)


def test_workload_left_on_its_content_tag_after_pinning_is_flagged(bundle: Path) -> None:
    before = gateway_deployment(bundle).read_text()
    pin(bundle)
    gateway_deployment(bundle).write_text(before)
    assert any("pushed digest manifest.json records" in f["message"] for f in digest_findings(bundle))


def test_compose_service_still_building_after_pinning_is_flagged(bundle: Path) -> None:
    compose_before = (bundle / "compose" / "compose.yaml").read_text()
    pin(bundle)
    (bundle / "compose" / "compose.yaml").write_text(compose_before)
    assert any("builds locally" in f["message"] for f in digest_findings(bundle))


def test_kustomization_digest_differing_from_manifest_is_flagged(bundle: Path) -> None:
    pin(bundle)
    edit_yaml(bundle / "kubernetes" / "kustomization.yaml",
              lambda k: k["images"][0].update(digest=fake_digest("elsewhere")))
    assert any(f["location"] == "kubernetes/kustomization.yaml" for f in digest_findings(bundle))


def test_digest_in_a_bundle_recorded_as_not_pushed_is_flagged(bundle: Path) -> None:
    path = gateway_deployment(bundle)
    path.write_text("\n".join(line + "@" + fake_digest("by-hand") if "image:" in line and "src-" in line else line
                              for line in path.read_text().splitlines()) + "\n")
    assert any("records this built image as not pushed" in f["message"] for f in digest_findings(bundle))


def assert_refused(root: Path, *args: str, says: str) -> None:
    before = read_files(root)
    result = run_cli("build", str(root), *args)
    assert result.code == 2, result.stdout + result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert SECRET_LOOKING not in result.stderr + result.stdout
    assert read_files(root) == before


def test_push_without_a_registry_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "local"
    write_bundle(render_bundle(load_deployment(spec_file(tmp_path, registry=None))), out)
    assert_refused(out, "--push", says="targets.docker.registry")


def test_edited_build_context_is_refused(bundle: Path) -> None:
    dockerfile = next((bundle / "docker").glob("*-gateway")) / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"# {SECRET_LOOKING}\n")
    assert_refused(bundle, "--push", says="changed since render")


def test_malformed_image_record_is_refused(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    first = sorted(manifest["images"])[0]
    manifest["images"][first]["digest"] = SECRET_LOOKING
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    assert_refused(bundle, "--push", says="digest must be null or sha256")
    assert run_cli("check", str(bundle)).code == 2


def test_half_pinned_bundle_is_refused_by_build(bundle: Path) -> None:
    pin(bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["images"][sorted(manifest["images"])[0]]["digest"] = None
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    assert_refused(bundle, "--push", says="some built images and not others")


def test_folder_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(SECRET_LOOKING)
    assert_refused(tmp_path, "--push", says="not a bundle")


def test_missing_ca_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    assert_refused(bundle, "--ca-bundle", str(tmp_path / SECRET_LOOKING), says="--ca-bundle")


def test_manifest_listing_a_file_outside_the_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET_LOOKING)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"]["../outside.txt"] = "0" * 64
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    assert_refused(bundle, "--push", says="outside the bundle")
    assert outside.read_text() == SECRET_LOOKING


def test_image_name_that_is_not_a_content_tagged_name_is_refused(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["images"][sorted(manifest["images"])[0]]["name"] = "--privileged"
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    assert_refused(bundle, says="name must be registry/repository/service:src-")
