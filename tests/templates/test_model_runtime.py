"""Every model the template offers on every runtime: the pre-generation hook either refuses the pair with one
message naming the field, or the project it makes validates and renders with the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from typer.testing import CliRunner

from slm_deploy.cli.app import app
from slm_deploy.cli.new import _template_dir
from tests.templates.bake import REGISTRY, TENANT, bake

CHOICES = json.loads((_template_dir() / "cookiecutter.json").read_text())
PAIRS = [(runtime, model) for runtime in CHOICES["runtime"] for model in CHOICES["model"]]
SMALLEST = {"vllm": {"gpu_type": "nvidia-t4"}, "foundry-local": {"target": "host"}}
"""What each runtime needs besides the defaults: the smallest GPU the sizing knows, Foundry Local's host."""
REFUSAL = re.compile(r"^error: (Pulumi\.[a-z]+\.yaml(, )?)+: (model answer, stack field model\.id: the catalogue has no "
                     r"pinned (?P<runtime>\S+) source|gpu_type answer, stack field resources\.gpu: the model .* short by)")


@pytest.mark.parametrize(("runtime", "model"), PAIRS, ids=[f"{r}-{m}" for r, m in PAIRS])
def test_pair_is_refused_up_front_or_renders(runtime: str, model: str, tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    try:
        # one environment: the pair decides, and the other environments differ only in size (tested in test_bake)
        project = bake(tmp_path, "pair", {"runtime": runtime, "model": model, "environments": "dev",
                                          **SMALLEST.get(runtime, {})})
    except FailedHookException:
        err = capfd.readouterr().err
        assert err.count("error: ") == 1, err
        match = REFUSAL.match(err)
        assert match and match["runtime"] in (None, runtime), err
        assert model == "default" or f" {model}," not in err.split("allowed:")[-1], "refused a model it offers"
        assert list(tmp_path.iterdir()) == []
        return
    for stack in sorted(project.glob("Pulumi.*.yaml")):
        validated = CliRunner().invoke(app, ["validate", str(stack), "--quiet"])
        assert validated.exit_code == 0, validated.output
        rendered = CliRunner().invoke(app, ["render", str(stack), "--out", str(tmp_path / stack.stem), "--quiet"])
        assert rendered.exit_code == 0, rendered.output


@pytest.mark.parametrize("runtime", CHOICES["runtime"])
def test_the_default_model_works_on_every_runtime(runtime: str, tmp_path: Path) -> None:
    project = bake(tmp_path, "default", {"runtime": runtime, **SMALLEST.get(runtime, {}), "environments": "dev"})
    rendered = CliRunner().invoke(app, ["render", str(project / "Pulumi.dev.yaml"), "--out", str(tmp_path / "b"),
                                        "--quiet"])
    assert rendered.exit_code == 0, rendered.output


@pytest.mark.parametrize("model", ["gemma-3-1b-it", "llama-3.2-1b-instruct"])
def test_a_gated_model_on_vllm_names_a_token_secret_in_the_stack_store(model: str, tmp_path: Path) -> None:
    project = bake(tmp_path, "gated", {"runtime": "vllm", "gpu_type": "nvidia-a10", "model": model,
                                       "target": "aks", "secret_store": "azure-key-vault", "environments": "dev",
                                       "azure_tenant_id": TENANT, "registry": REGISTRY})
    spec = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["slm-deploy:deployment"]
    assert spec["model"]["hub_token_secret"] == "hf-token"
    assert spec["secrets"]["hf-token"]["backend"] == "azure-key-vault"
    assert spec["secrets"]["hf-token"]["vault"] == spec["secrets"]["api-keys"]["vault"]


def test_a_public_model_names_no_token(tmp_path: Path) -> None:
    project = bake(tmp_path, "public", {"runtime": "vllm", "gpu_type": "nvidia-a10", "environments": "dev"})
    spec = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["slm-deploy:deployment"]
    assert "hub_token_secret" not in spec["model"] and set(spec["secrets"]) == {"api-keys"}
