"""Deployments of one Pulumi program on one cluster keep out of each other's add-on namespaces: a deployment in the
namespace where another bundles its monitoring stack would cut that Prometheus off with its deny-all policy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pulumi
import pytest

from slm_deploy.spec.loader import parse_deployment
from slm_deploy.stack_settings import StackSettings
from tests.test_pulumi_components import ComponentMocks, canary_value, kubernetes_onnx_spec


def _spec(name: str, namespace: str, *, monitoring: bool) -> dict[str, Any]:
    spec = kubernetes_onnx_spec()
    spec["name"] = name
    spec["targets"]["kubernetes"]["namespace"] = namespace
    spec["monitoring"] = {"enabled": monitoring}
    return spec


def _run_together(specs: list[dict[str, Any]], tmp_path: Path, names: list[str] | None = None,
                  secrets: tuple[str, ...] = ("api-keys",)) -> ComponentMocks:
    """Declare one SlmDeployment per spec, in order, in one program on the ambient cluster (named after the
    deployments unless `names` are given, as stacks of one project share their deployment name)."""
    mocks = ComponentMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="slm-deploy", stack="test", preview=False)
    pulumi.runtime.set_all_config({f"slm-deploy:secret-{secret}": canary_value(secret) for secret in secrets})

    @pulumi.runtime.test
    def program():
        from slm_deploy.program import stack_args
        from slm_deploy.stack import SlmDeployment
        for index, spec in enumerate(specs):
            deployment = parse_deployment(spec)
            name = names[index] if names else deployment.spec.name
            settings = StackSettings(work_dir=tmp_path / name)
            SlmDeployment(name, stack_args(deployment, settings, pulumi.Config("slm-deploy")))

    program()
    return mocks


@pytest.mark.parametrize("order", ["monitoring first", "monitoring second"])
def test_a_deployment_in_another_s_monitoring_namespace_fails_the_program(order: str, tmp_path: Path) -> None:
    monitored, intruder = _spec("alpha", "alpha", monitoring=True), _spec("beta", "monitoring", monitoring=False)
    specs = [monitored, intruder] if order == "monitoring first" else [intruder, monitored]
    with pytest.raises(pulumi.RunError, match=r"(?s)beta cannot share its cluster.*targets\.kubernetes\.namespace: "
                                              r".*the bundled monitoring stack"):
        _run_together(specs, tmp_path)


def test_deployments_in_namespaces_of_their_own_share_the_cluster(tmp_path: Path) -> None:
    mocks = _run_together([_spec("alpha", "alpha", monitoring=True), _spec("beta", "beta", monitoring=False)],
                          tmp_path)
    namespaces = {r.name for r in mocks.resources if r.typ == "kubernetes:core/v1:Namespace"}
    assert any(name.endswith("namespace-alpha") for name in namespaces)
    assert any(name.endswith("namespace-beta") for name in namespaces)
