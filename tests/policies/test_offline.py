"""The offline checker over a bundle: clean bundles pass, findings are reported, waived and formatted."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from policy_harness import load_compliant, write_bundle

from slm_deploy.errors import BundleError
from slm_deploy.policies import (Severity, WaiverError, check_bundle, fails, load_waivers, to_json, to_sarif,
                                 to_text)
from slm_deploy.policies.registry import all_rules

FIXTURES = load_compliant()


@pytest.fixture()
def bundle(tmp_path):
    """A compliant bundle laid out like `slm-deploy render` output."""
    root = write_bundle(tmp_path / "bundle", FIXTURES)
    (root / "kubernetes" / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                                           "kind: Kustomization\nresources: []\n")
    (root / "manifest.json").write_text("{}")
    return root


def _break_deployment(root):
    """Make the vLLM Deployment privileged and drop the default-deny policy."""
    path = root / "kubernetes" / "deployment-vllm.yaml"
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    path.write_text(yaml.safe_dump(obj))
    (root / "kubernetes" / "networkpolicy-default-deny.yaml").unlink()


def test_compliant_bundle_has_no_findings(bundle) -> None:
    report = check_bundle(bundle)
    assert report.findings == ()
    assert "docker/vllm/Dockerfile" in report.checked and "compose/compose.yaml" in report.checked
    assert not fails(report, "low")


def test_findings_name_rule_resource_and_file(bundle) -> None:
    _break_deployment(bundle)
    report = check_bundle(bundle)
    privileged = [f for f in report.findings if f.rule == "slm-k8s-002"]
    assert len(privileged) == 1
    assert privileged[0].resource == "Deployment/llm/vllm"
    assert privileged[0].location == "kubernetes/deployment-vllm.yaml"
    assert "slm-k8s-015" in report.rule_ids()
    assert report.findings[0].severity is Severity.CRITICAL
    assert fails(report, "critical") and fails(report, "HIGH")


def test_fail_on_threshold_ignores_lower_severities(bundle) -> None:
    (bundle / "kubernetes" / "limitrange.yaml").unlink()
    report = check_bundle(bundle)
    assert {f.severity for f in report.findings} == {Severity.MEDIUM}
    assert fails(report, "medium") and not fails(report, "high")
    with pytest.raises(ValueError, match="allowed: low, medium, high, critical"):
        fails(report, "severe")


def test_waiver_moves_finding_to_waived_and_is_listed(bundle) -> None:
    _break_deployment(bundle)
    waivers = [{"rule": "slm-k8s-002", "resource": "Deployment/vllm", "reason": "GPU driver debugging, ticket 42"},
               {"rule": "slm-k8s-001", "resource": "Deployment/llm/other", "reason": "unused on purpose"}]
    report = check_bundle(bundle, waivers=waivers)
    assert "slm-k8s-002" not in report.rule_ids()
    assert [w.finding.rule for w in report.waived] == ["slm-k8s-002"]
    assert [w.reason for w in report.waivers_applied] == ["GPU driver debugging, ticket 42"]
    assert [w.resource for w in report.waivers_unused] == ["Deployment/llm/other"]
    text = to_text(report)
    assert "Waived:" in text and "GPU driver debugging, ticket 42" in text and "unused waiver" in text
    data = json.loads(to_json(report))
    assert data["waiversApplied"] == [waivers[0]]
    assert data["waived"][0]["reason"] == waivers[0]["reason"]


def test_waiver_by_file_path(bundle) -> None:
    _break_deployment(bundle)
    report = check_bundle(bundle, waivers=[{"rule": "slm-k8s-002", "resource": "kubernetes/deployment-vllm.yaml",
                                            "reason": "reviewed"}])
    assert "slm-k8s-002" not in report.rule_ids()


@pytest.mark.parametrize("raw", [
    {"rule": "slm-k8s-002", "resource": "Deployment/vllm"},
    {"rule": "slm-k8s-002", "resource": "Deployment/vllm", "reason": "   "},
    {"rule": "slm-nope-001", "resource": "Deployment/vllm", "reason": "x"},
    {"resource": "Deployment/vllm", "reason": "x"},
])
def test_invalid_waiver_is_rejected_with_a_clear_error(raw) -> None:
    with pytest.raises(WaiverError) as excinfo:
        load_waivers([raw])
    assert "waivers[0]" in str(excinfo.value)


def test_missing_bundle_is_a_bundle_error(tmp_path) -> None:
    with pytest.raises(BundleError, match="not a directory"):
        check_bundle(tmp_path / "missing")


def test_sarif_has_the_required_2_1_0_structure(bundle) -> None:
    _break_deployment(bundle)
    report = check_bundle(bundle, waivers=[{"rule": "slm-k8s-015", "resource": "bundle", "reason": "shared policy"}])
    log = json.loads(to_sarif(report))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "slm-deploy"
    assert [r["id"] for r in rules] == sorted(r.id for r in all_rules())
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
        assert 0 < float(rule["properties"]["security-severity"]) <= 10
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        assert result["level"] in ("note", "warning", "error")
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] and not location["artifactLocation"]["uri"].startswith("/")
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["slm-k8s-015"]
    assert suppressed[0]["suppressions"][0]["justification"] == "shared policy"


def test_dockerfile_findings_carry_line_numbers(bundle) -> None:
    path = bundle / "docker" / "vllm" / "Dockerfile"
    path.write_text(path.read_text().replace("EXPOSE 8000", "EXPOSE 22"))
    report = check_bundle(bundle)
    finding = next(f for f in report.findings if f.rule == "slm-docker-008")
    assert path.read_text().splitlines()[finding.line - 1] == "EXPOSE 22"
    region = json.loads(to_sarif(report))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == finding.line


def test_output_is_deterministic(bundle, tmp_path) -> None:
    _break_deployment(bundle)
    copy = shutil.copytree(bundle, tmp_path / "copy")
    assert to_sarif(check_bundle(bundle)) == to_sarif(check_bundle(copy))
    assert to_text(check_bundle(bundle)) == to_text(check_bundle(copy))
