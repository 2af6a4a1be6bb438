"""Every bundle rendered from every example stack passes every rule of the pack, with no waivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.policies import check_bundle
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import STACKS, stack_id


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_rendered_bundle_passes_every_rule_without_waivers(stack: Path, tmp_path: Path) -> None:
    deployment = load_deployment(stack)
    assert deployment.spec.waivers == [], "example stacks must pass without waivers"
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    report = check_bundle(bundle)
    assert report.findings == (), "\n".join(
        f"{f.rule} {f.severity.value} {f.resource} ({f.location}): {f.message}" for f in report.findings)


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_every_rendered_target_is_checked(stack: Path, tmp_path: Path) -> None:
    deployment = load_deployment(stack)
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    checked = check_bundle(bundle).checked
    if (bundle / "compose" / "compose.yaml").exists():
        assert "compose/compose.yaml" in checked
    rendered_k8s = sorted(p.name for p in (bundle / "kubernetes").glob("*.yaml") if p.name != "kustomization.yaml")
    assert {f"kubernetes/{name}" for name in rendered_k8s} <= set(checked)
    assert {p.relative_to(bundle).as_posix() for p in bundle.glob("docker/*/Dockerfile*")} <= set(checked)
