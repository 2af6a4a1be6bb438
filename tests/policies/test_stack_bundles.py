"""Every bundle rendered from every example stack passes every rule of the pack, with no waivers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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


def test_a_rendered_conversion_step_given_the_token_or_a_network_is_reported(tmp_path: Path) -> None:
    """The rendered split preparation, edited the way a hand change would: the conversion step gains the download
    step's token and network (Compose) or its secret mount and an online hub client (Kubernetes)."""
    stack = next(s for s in STACKS if stack_id(s) == "qwen3-gguf-prepared")
    data = yaml.safe_load(stack.read_text())
    spec_data = data["config"]["slm-deploy:deployment"]
    spec_data["model"]["hub_token_secret"] = "hf-token"
    spec_data["secrets"]["hf-token"] = dict(spec_data["secrets"]["api-keys"])
    spec = tmp_path / "Pulumi.prepared.yaml"
    spec.write_text(yaml.safe_dump(data))
    deployment = load_deployment(spec)
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    assert [f for f in check_bundle(bundle).findings if f.rule == "slm-serving-013"] == []
    name = deployment.spec.name
    compose_file = bundle / "compose" / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    download, convert = compose["services"][f"{name}-model-download"], compose["services"][f"{name}-model-prep"]
    convert.pop("network_mode")
    convert["networks"], convert["secrets"] = download["networks"], download["secrets"]
    compose_file.write_text(yaml.safe_dump(compose))
    (job_file,) = (bundle / "kubernetes").glob(f"job-{name}-model-prep-*.yaml")
    job = yaml.safe_load(job_file.read_text())
    steps = {c["name"]: c for c in job["spec"]["template"]["spec"]["initContainers"]}
    steps["convert"]["volumeMounts"] = steps["download"]["volumeMounts"]
    steps["convert"]["env"] = steps["download"]["env"]
    job_file.write_text(yaml.safe_dump(job))
    found = [(f.location, f.message) for f in check_bundle(bundle).findings if f.rule == "slm-serving-013"]
    assert any("given secrets" in m for _, m in found) and any("has a network" in m for _, m in found)
    assert any("mounts secrets" in m for _, m in found) and any("hub token" in m for _, m in found)
    assert any("HF_HUB_OFFLINE=1" in m for _, m in found)
