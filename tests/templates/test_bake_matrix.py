"""Every runtime and target pair the template offers: the pairs that can deploy are baked and pass their own generated
test, the others are refused by the hook. test_bake.py bakes some pairs with their options; this module bakes every
remaining pair with only the answers the pair needs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from slm_deploy.cli.new import _template_dir
from tests.templates.bake import BAKES, REGISTRY, bake

pytestmark = pytest.mark.xdist_group("template-bake")

OFFERED = json.loads((_template_dir() / "cookiecutter.json").read_text())
PAIRS = list(itertools.product(OFFERED["runtime"], OFFERED["target"]))
DEPLOYABLE = {(runtime, target) for runtime, target in PAIRS if (target == "host") == (runtime == "foundry-local")}
"""Foundry Local installs on a host; every container runtime runs on Compose, Kubernetes and AKS."""
BAKED_ELSEWHERE = {(answers["runtime"], answers["target"]) for answers in BAKES.values()}


def fewest_answers(runtime: str, target: str) -> dict[str, str]:
    """What a pair cannot go without: a registry to push to on a cluster, a GPU for vLLM, a model the runtime has."""
    answers = {"runtime": runtime, "target": target, "environments": "dev"}
    if target in ("kubernetes", "aks"):
        answers["registry"] = REGISTRY
    if runtime == "vllm":
        answers["gpu_type"] = "nvidia-l4"
    if runtime in ("onnxruntime", "foundry-local"):
        answers["model"] = "phi-4-mini-instruct"
    return answers


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path | None]:
    """Each pair not baked by test_bake.py: its project, or None where the hook refused it."""
    root = tmp_path_factory.mktemp("matrix")
    projects: dict[tuple[str, str], Path | None] = {}
    for runtime, target in PAIRS:
        if (runtime, target) in BAKED_ELSEWHERE:
            continue
        try:
            projects[runtime, target] = bake(root, f"m-{runtime}-{target}", fewest_answers(runtime, target))
        except FailedHookException:
            projects[runtime, target] = None
    return projects


def test_the_hook_accepts_exactly_the_pairs_that_deploy(baked: dict[tuple[str, str], Path | None]) -> None:
    assert BAKED_ELSEWHERE <= DEPLOYABLE
    assert {pair for pair, project in baked.items() if project is not None} == DEPLOYABLE - BAKED_ELSEWHERE


def test_every_deployable_pair_passes_its_own_generated_test(baked: dict[tuple[str, str], Path | None]) -> None:
    """Each project's own test (its stacks validate together, render, and pass `slm-deploy check --fail-on low`)."""
    projects = [project for project in baked.values() if project is not None]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                           "-o", "addopts=", *(str(project / "tests") for project in projects)],
                          capture_output=True, text=True, timeout=600, cwd=projects[0].parent)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{3 * len(projects)} passed" in proc.stdout, proc.stdout[-2000:]
