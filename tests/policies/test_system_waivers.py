"""The pack's own waivers: the NVIDIA device plugin passes as rendered, and only in exactly that shape."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from slm_deploy.policies.crossguard import PACK_NAME, build_policies
from slm_deploy.spec.loader import parse_deployment
from tests.test_pulumi_components import stack_spec

pytest.importorskip("pulumi_kubernetes")
from slm_deploy.render.kubernetes.device_plugin import daemon_set, namespace  # noqa: E402

DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
NAMESPACE = "kubernetes:core/v1:Namespace"


def servicer() -> _PolicyAnalyzerServicer:
    """The analyzer the Pulumi CLI talks to, with every policy of the pack."""
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", build_policies(), EnforcementLevel.MANDATORY)


def analyze(token: str, props: dict) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Violations by policy, and not-applicable reasons by policy, as the CLI would receive them."""
    request = proto.AnalyzeRequest(type=token, urn=f"urn:pulumi:s::p::{token}::plugin", name="plugin")
    json_format.ParseDict(props, request.properties)
    response = servicer().Analyze(request, None)
    violations: dict[str, list[str]] = {}
    for diagnostic in response.diagnostics:
        violations.setdefault(diagnostic.policyName, []).append(diagnostic.message)
    skipped = {n.policy_name: n.reason for n in response.not_applicable}
    return violations, skipped


@pytest.fixture(scope="module")
def spec():
    return parse_deployment(stack_spec("phi4-vllm-aks")).spec


def test_the_rendered_plugin_and_its_namespace_pass_with_the_reason_recorded(spec) -> None:
    violations, skipped = analyze(DAEMON_SET, daemon_set(spec))
    assert violations == {}
    assert set(skipped) == {"slm-k8s-005", "slm-k8s-008", "slm-k8s-017"}
    assert all("DaemonSet/nvidia-device-plugin/nvidia-device-plugin" in r and "/var/lib/kubelet/device-plugins" in r
               for r in skipped.values())
    violations, skipped = analyze(NAMESPACE, namespace(spec))
    assert violations == {} and set(skipped) == {"slm-k8s-014"}


def _image(image: str) -> Callable[[dict], None]:
    def apply(manifest: dict) -> None:
        manifest["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return apply


def _pod(field: str, value) -> Callable[[dict], None]:
    def apply(manifest: dict) -> None:
        manifest["spec"]["template"]["spec"][field] = value
    return apply


def _extra_host_path(manifest: dict) -> None:
    pod = manifest["spec"]["template"]["spec"]
    pod["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})


def _privileged(manifest: dict) -> None:
    manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True


def _moved(manifest: dict) -> None:
    manifest["metadata"]["namespace"] = "phi4-mini"


@pytest.mark.parametrize("mutate", [
    _image("docker.io/evil/miner:1@sha256:" + "0" * 64),
    _image("nvcr.io/nvidia/k8s-device-plugin:v0.17.0"),  # no digest
    _extra_host_path,
    _pod("hostPID", True),
    _privileged,
    _moved,
], ids=["other-image", "unpinned", "docker-socket", "host-pid", "privileged", "other-namespace"])
def test_any_other_shape_is_checked_as_usual(spec, mutate) -> None:
    manifest = copy.deepcopy(daemon_set(spec))
    mutate(manifest)
    violations, skipped = analyze(DAEMON_SET, manifest)
    assert {"slm-k8s-005", "slm-k8s-008"} <= set(violations)
    assert not {"slm-k8s-005", "slm-k8s-008", "slm-k8s-017"} & set(skipped)


def test_a_mirrored_plugin_image_keeps_its_waiver(spec) -> None:
    manifest = copy.deepcopy(daemon_set(spec))
    _image("mirror.example.com/nvidia/k8s-device-plugin:v0.17.0@sha256:" + "a" * 64)(manifest)
    violations, _ = analyze(DAEMON_SET, manifest)
    assert violations == {}


def test_rules_without_a_waiver_still_apply_to_the_plugin(spec) -> None:
    manifest = copy.deepcopy(daemon_set(spec))
    del manifest["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"]
    manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    violations, _ = analyze(DAEMON_SET, manifest)
    assert set(violations) == {"slm-k8s-007", "slm-k8s-012"}


def test_a_namespace_that_stops_auditing_restricted_loses_its_waiver(spec) -> None:
    manifest = copy.deepcopy(namespace(spec))
    manifest["metadata"]["labels"]["pod-security.kubernetes.io/audit"] = "privileged"
    violations, skipped = analyze(NAMESPACE, manifest)
    assert "slm-k8s-014" in violations and "slm-k8s-014" not in skipped


def test_offline_check_of_the_rendered_aks_example_waives_exactly_the_plugin_as_crossguard_does(tmp_path) -> None:
    from slm_deploy.policies.offline import check_bundle
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.render.writer import write_bundle

    write_bundle(render_bundle(parse_deployment(stack_spec("phi4-vllm-aks"))), tmp_path / "bundle")
    assert (tmp_path / "bundle" / "kubernetes" / "cluster" / "daemonset-nvidia-device-plugin.yaml").is_file()
    report = check_bundle(tmp_path / "bundle")
    assert report.findings == ()
    assert {w.finding.resource for w in report.waived} == {"DaemonSet/nvidia-device-plugin/nvidia-device-plugin",
                                                           "Namespace/nvidia-device-plugin"}
    assert {w.finding.rule for w in report.waived} == {"slm-k8s-005", "slm-k8s-008", "slm-k8s-014", "slm-k8s-017"}


def test_offline_check_still_fails_a_plugin_that_leaves_the_exempted_shape(tmp_path) -> None:
    from slm_deploy.policies.offline import check_bundle
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.render.writer import write_bundle

    write_bundle(render_bundle(parse_deployment(stack_spec("phi4-vllm-aks"))), tmp_path / "bundle")
    path = tmp_path / "bundle" / "kubernetes" / "cluster" / "daemonset-nvidia-device-plugin.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("hostPID: false", "hostPID: true"), encoding="utf-8")
    report = check_bundle(tmp_path / "bundle")
    assert "slm-k8s-005" in report.rule_ids() or "slm-k8s-017" in report.rule_ids()
