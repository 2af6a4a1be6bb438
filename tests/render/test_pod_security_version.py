"""Every namespace the stack renders pins Pod Security to the target cluster's Kubernetes minor version."""

from __future__ import annotations

import pytest

from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.kubernetes.objects import render_kubernetes
from slm_deploy.render.kubernetes.cluster_add_ons import render_cluster_add_ons
from slm_deploy.render.kubernetes.pod_security import DEFAULT_VERSION
from slm_deploy.spec.loader import parse_deployment
from tests.test_pulumi_components import kubernetes_onnx_spec, stack_spec


def namespace_versions(spec: dict) -> dict[str, set[str]]:
    deployment = parse_deployment(spec)
    objects = render_kubernetes(deployment, deployable_plan(deployment)) + render_cluster_add_ons(deployment.spec)
    return {o["metadata"]["name"]: {v for k, v in o["metadata"]["labels"].items() if k.endswith("-version")}
            for o in objects if o["kind"] == "Namespace"}


@pytest.mark.parametrize("version, expected", [("1.33", "v1.33"), ("1.32.7", "v1.32")])
def test_aks_namespaces_follow_the_cluster_version(version: str, expected: str) -> None:
    spec = stack_spec("phi4-vllm-aks")
    spec["targets"]["aks"]["kubernetes_version"] = version
    found = namespace_versions(spec)
    assert set(found) == {"phi4-mini", "nvidia-device-plugin", "cert-manager"}
    assert all(versions == {expected} for versions in found.values()), found


def test_a_cluster_the_spec_does_not_describe_gets_the_newest_profile_version() -> None:
    assert namespace_versions(kubernetes_onnx_spec()) == {"phi4-onnx": {DEFAULT_VERSION}}
