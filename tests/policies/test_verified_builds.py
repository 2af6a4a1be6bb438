"""Images a bundle builds count as pinned only under the content tag of the build context it carries."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.policies import check_bundle
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import STACKS

AKS = next(s for s in STACKS if "aks" in s.name)


def _serving_004(bundle: Path) -> list[str]:
    return [f.message for f in check_bundle(bundle).findings if f.rule == "slm-serving-004"]


def _render(tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    write_bundle(render_bundle(load_deployment(AKS)), out)
    return out


def test_gateway_built_by_the_bundle_is_accepted_under_its_content_tag(tmp_path: Path) -> None:
    bundle = _render(tmp_path)
    images = [line for line in (bundle / "kubernetes" / "deployment-phi4-mini-gateway.yaml").read_text().splitlines()
              if "image:" in line]
    assert images and all(":src-" in line and "@sha256" not in line for line in images)
    assert _serving_004(bundle) == []


def test_a_changed_build_context_no_longer_matches_the_tag(tmp_path: Path) -> None:
    bundle = _render(tmp_path)
    config = bundle / "docker" / "phi4-mini-gateway" / "gateway.toml"
    config.write_text(config.read_text().replace("rate_per_second", "rate_per_second_tampered", 1))
    assert any("content tag" in message for message in _serving_004(bundle))


def test_a_content_tag_of_an_image_the_bundle_does_not_build_is_refused(tmp_path: Path) -> None:
    bundle = _render(tmp_path)
    deployment = bundle / "kubernetes" / "deployment-phi4-mini-gateway.yaml"
    text = deployment.read_text()
    deployment.write_text(text.replace("/phi4-mini-gateway:src-", "/someone-elses-image:src-"))
    assert _serving_004(bundle)
