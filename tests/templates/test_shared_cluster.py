"""The stacks of a scaffolded Kubernetes project share its cluster: each bundles its monitoring stack in a namespace
of its own, and all of them validate, render and deploy together."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.templates.bake import REGISTRY, bake
from tests.test_cluster_tenants import _run_together

pytestmark = pytest.mark.xdist_group("template-bake")

ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("shared-cluster"), "shared",
                {"target": "kubernetes", "registry": REGISTRY, "environments": ",".join(ENVIRONMENTS)})


def specs(project: Path) -> dict[str, dict]:
    return {env: yaml.safe_load((project / f"Pulumi.{env}.yaml").read_text())["config"]["slm-deploy:deployment"]
            for env in ENVIRONMENTS}


def test_each_environment_bundles_its_own_monitoring_stack_in_its_own_namespace(project: Path) -> None:
    found = {env: (spec["monitoring"], spec["targets"]["kubernetes"]) for env, spec in specs(project).items()}
    assert found == {env: ({"enabled": True}, {"namespace": f"shared-{env}",
                                               "monitoring_namespace": f"shared-{env}-monitoring"})
                     for env in ENVIRONMENTS}


def test_every_stack_validates_together(project: Path) -> None:
    """Validated (rendered in memory) together, specs are taken to share one cluster: two bundled monitoring
    stacks, or a namespace where another places an add-on, would be refused."""
    validated = run_cli("validate", *(str(project / f"Pulumi.{env}.yaml") for env in ENVIRONMENTS))
    assert validated.code == 0, validated.stderr


def test_every_stack_deploys_to_one_cluster_under_the_pulumi_mocks(project: Path, tmp_path: Path) -> None:
    """All environments' deployments in one program on one cluster: each environment's namespace and its
    monitoring stack's, and no Helm release."""
    mocks = _run_together(list(specs(project).values()), tmp_path, names=[f"shared-{env}" for env in ENVIRONMENTS],
                          secrets=("api-keys", "grafana-admin-password"))
    assert not [r for r in mocks.resources if r.typ == "kubernetes:helm.sh/v3:Release"]
    namespaces = {r.inputs["metadata"]["name"] for r in mocks.resources if r.typ == "kubernetes:core/v1:Namespace"}
    assert namespaces == {name for env in ENVIRONMENTS for name in (f"shared-{env}", f"shared-{env}-monitoring")}
