"""Every stack renders to a bundle that passes slm-deploy's policy pack, offline, as CI runs it."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from slm_deploy.cli.app import app

PROJECT = Path(__file__).resolve().parent.parent
STACKS = sorted(PROJECT.glob("Pulumi.*.yaml"))
ENVIRONMENTS = [{% for env in cookiecutter.environments.split(",") | map("trim") | reject("equalto", "") %}"{{ env }}", {% endfor %}]


def test_every_environment_has_a_stack() -> None:
    assert sorted(stack.name for stack in STACKS) == sorted(f"Pulumi.{env}.yaml" for env in ENVIRONMENTS)


def test_stacks_can_share_one_cluster() -> None:
    """Validated together, the stacks are taken to share a cluster (an AKS stack creates its own): no two bundled
    monitoring stacks share a namespace, and no deployment is in a namespace where another places an add-on."""
    validated = CliRunner().invoke(app, ["validate", "--quiet", *map(str, STACKS)])
    assert validated.exit_code == 0, validated.output


@pytest.mark.parametrize("stack", STACKS, ids=lambda path: path.stem.removeprefix("Pulumi."))
def test_stack_renders_a_bundle_that_passes_the_policy_pack(stack: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bundle = tmp_path / "bundle"
    rendered = runner.invoke(app, ["render", str(stack), "--out", str(bundle), "--quiet"])
    assert rendered.exit_code == 0, rendered.output
    assert (bundle / "manifest.json").is_file()
    checked = runner.invoke(app, ["check", str(bundle), "--fail-on", "low"])
    assert checked.exit_code == 0, checked.output
