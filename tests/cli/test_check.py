"""`slm-deploy check`: exit codes, the three formats, waivers from the spec, and one clear message on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from slm_deploy.policies import all_rules
from tests.conftest import ROOT, run_cli
from tests.policies.policy_harness import BROKEN, load_compliant, write_bundle

STACK = ROOT / "stacks" / "Pulumi.qwen3-llamacpp-edge.yaml"
BROKEN_RULES = {rule for ids in yaml.safe_load((BROKEN / "expectations.yaml").read_text()).values() for rule in ids}


@pytest.fixture
def clean_bundle(tmp_path: Path) -> Path:
    """A bundle of hardened Dockerfiles, a Compose project and Kubernetes objects that passes every rule."""
    return write_bundle(tmp_path / "clean", load_compliant())


@pytest.fixture
def broken_bundle(tmp_path: Path) -> Path:
    """The deliberately insecure files laid out as a bundle."""
    target = tmp_path / "broken"
    shutil.copytree(BROKEN, target, ignore=shutil.ignore_patterns("expectations.yaml"))
    return target


@pytest.fixture
def low_only_bundle(clean_bundle: Path) -> Path:
    """The clean bundle with one low-severity problem: a Compose service without an init process."""
    compose = clean_bundle / "compose" / "compose.yaml"
    project = yaml.safe_load(compose.read_text())
    first = next(iter(project["services"]))
    project["services"][first].pop("init")
    compose.write_text(yaml.safe_dump(project, sort_keys=False))
    return clean_bundle


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.strip(), "a failure must say why"


def test_clean_bundle_exits_zero(clean_bundle: Path) -> None:
    result = run_cli("check", str(clean_bundle))
    assert result.code == 0, result.stdout + result.stderr
    assert "0 findings (no findings)" in result.stdout
    assert "kubernetes/deployment-vllm.yaml" not in result.stdout


def test_broken_bundle_exits_one_and_names_every_expected_rule(broken_bundle: Path) -> None:
    result = run_cli("check", str(broken_bundle))
    assert result.code == 1
    reported = {line.split()[1] for line in result.stdout.splitlines() if line.split()[:1]
                and line.split()[0] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")}
    assert BROKEN_RULES <= reported
    assert "placeholder-token" not in result.stdout + result.stderr


@pytest.mark.parametrize(("fail_on", "code"), [("low", 1), ("LOW", 1), ("medium", 0), ("high", 0), ("critical", 0)])
def test_fail_on_sets_the_threshold(low_only_bundle: Path, fail_on: str, code: int) -> None:
    result = run_cli("check", str(low_only_bundle), "--fail-on", fail_on)
    assert result.code == code, result.stdout + result.stderr
    assert "slm-compose-013" in result.stdout  # reported either way; only the exit code follows --fail-on


def test_default_threshold_fails_on_any_finding(low_only_bundle: Path) -> None:
    assert run_cli("check", str(low_only_bundle)).code == 1


def test_json_lists_findings_and_counts(broken_bundle: Path) -> None:
    result = run_cli("check", str(broken_bundle), "--format", "json")
    assert result.code == 1
    report = json.loads(result.stdout)
    assert BROKEN_RULES <= {f["rule"] for f in report["findings"]}
    assert sum(report["summary"].values()) == len(report["findings"])
    assert "docker/root-latest/Dockerfile" in report["checked"]
    assert report["waived"] == [] and report["waiversApplied"] == [] and report["waiversUnused"] == []


def test_sarif_has_the_2_1_0_structure(broken_bundle: Path) -> None:
    result = run_cli("check", str(broken_bundle), "--format", "sarif", "--fail-on", "critical")
    assert result.code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "slm-deploy" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert sorted(rule_ids) == sorted(r.id for r in all_rules())
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in driver["rules"])
    assert run["results"]
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("note", "warning", "error")
        assert res["message"]["text"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (broken_bundle / uri).exists(), uri  # a file, or kubernetes/ for cross-object rules
    assert BROKEN_RULES <= {res["ruleId"] for res in run["results"]}


def test_sarif_of_a_clean_bundle_has_no_results(clean_bundle: Path) -> None:
    result = run_cli("check", str(clean_bundle), "-f", "sarif")
    assert result.code == 0
    assert json.loads(result.stdout)["runs"][0]["results"] == []


def _with_manifest_waivers(bundle: Path, waivers: object) -> Path:
    (bundle / "manifest.json").write_text(json.dumps({"generator": {"name": "slm-deploy"}, "waivers": waivers}))
    return bundle


def test_waivers_recorded_in_the_manifest_switch_findings_off_and_are_listed(low_only_bundle: Path) -> None:
    reason = "init is provided by the host's supervisor in this lab"
    _with_manifest_waivers(low_only_bundle, [
        {"rule": "slm-compose-013", "resource": "compose/compose.yaml", "reason": reason},
        {"rule": "slm-k8s-002", "resource": "Deployment/nowhere", "reason": "kept for a workload removed later"},
    ])
    text = run_cli("check", str(low_only_bundle))
    assert text.code == 0, text.stdout + text.stderr
    assert "Waived:" in text.stdout and reason in text.stdout
    assert "unused waiver: slm-k8s-002 for Deployment/nowhere" in text.stdout
    report = json.loads(run_cli("check", str(low_only_bundle), "-f", "json").stdout)
    assert report["findings"] == []
    assert [w["rule"] for w in report["waived"]] == ["slm-compose-013"]
    assert [w["rule"] for w in report["waiversApplied"]] == ["slm-compose-013"]
    assert [w["rule"] for w in report["waiversUnused"]] == ["slm-k8s-002"]
    sarif = json.loads(run_cli("check", str(low_only_bundle), "-f", "sarif").stdout)
    (suppressed,) = sarif["runs"][0]["results"]
    assert suppressed["suppressions"][0]["justification"] == reason


@pytest.mark.parametrize(("waivers", "message"), [
    ([{"rule": "slm-compose-013", "resource": "compose/compose.yaml", "reason": ""}], "reason"),
    ([{"rule": "slm-compose-013", "resource": "compose/compose.yaml"}], "reason"),
    ([{"rule": "slm-nope-999", "resource": "compose/compose.yaml", "reason": "no such rule exists"}], "unknown rule"),
    ("slm-compose-013", "waivers must be a list"),
])
def test_a_bad_waiver_is_bad_input(low_only_bundle: Path, waivers: object, message: str) -> None:
    result = run_cli("check", str(_with_manifest_waivers(low_only_bundle, waivers)))
    assert result.code == 2
    assert message in result.stderr
    no_traceback(result.stderr)


def _stack_with_waiver(tmp_path: Path, waiver: dict) -> Path:
    data = yaml.safe_load(STACK.read_text())
    data["config"]["slm-deploy:deployment"]["waivers"] = [waiver]
    stack = tmp_path / "Pulumi.waived.yaml"
    stack.write_text(yaml.safe_dump(data, sort_keys=False))
    return stack


def test_render_records_the_spec_waivers_and_check_applies_them(tmp_path: Path) -> None:
    waiver = {"rule": "slm-compose-013", "resource": "compose/compose.yaml",
              "reason": "reviewed: init handled by the host supervisor"}
    stack = _stack_with_waiver(tmp_path, waiver)
    bundle = tmp_path / "bundle"
    assert run_cli("render", str(stack), "--out", str(bundle)).code == 0
    assert json.loads((bundle / "manifest.json").read_text())["waivers"] == [waiver]
    for extra in ([], ["--spec", str(stack)]):  # the rendered bundle is clean: the waiver has nothing to waive
        report = json.loads(run_cli("check", str(bundle), "-f", "json", *extra).stdout)
        assert (report["waiversApplied"], report["waiversUnused"]) == ([], [waiver])
    compose = bundle / "compose" / "compose.yaml"
    project = yaml.safe_load(compose.read_text())
    for service in project["services"].values():
        service.pop("init")
    compose.write_text(yaml.safe_dump(project, sort_keys=False))
    for extra in ([], ["--spec", str(stack)]):  # now it waives every finding of its rule
        result = run_cli("check", str(bundle), "-f", "json", *extra)
        report = json.loads(result.stdout)
        assert result.code == 0, result.stdout
        assert report["findings"] == [] and {w["rule"] for w in report["waived"]} == {"slm-compose-013"}
        assert (report["waiversApplied"], report["waiversUnused"]) == ([waiver], [])


def test_spec_without_waivers_records_none(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert run_cli("render", str(STACK), "--out", str(bundle)).code == 0
    assert "waivers" not in json.loads((bundle / "manifest.json").read_text())


def test_spec_must_be_the_one_the_bundle_came_from(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert run_cli("render", str(STACK), "--out", str(bundle)).code == 0
    other = _stack_with_waiver(tmp_path, {"rule": "slm-compose-013", "resource": "compose/compose.yaml",
                                          "reason": "added after the bundle was rendered"})
    result = run_cli("check", str(bundle), "--spec", str(other))
    assert result.code == 2
    assert "was not rendered from" in result.stderr and "slm-deploy render" in result.stderr
    no_traceback(result.stderr)


def test_a_spec_waiver_without_a_reason_is_rejected_with_its_field_path(tmp_path: Path, clean_bundle: Path) -> None:
    stack = _stack_with_waiver(tmp_path, {"rule": "slm-compose-013", "resource": "compose/compose.yaml"})
    result = run_cli("check", str(clean_bundle), "--spec", str(stack))
    assert result.code == 2
    assert "waivers" in result.stderr and "reason" in result.stderr
    no_traceback(result.stderr)


@pytest.mark.parametrize("make", ["missing", "file", "empty", "unrelated"])
def test_not_a_bundle_is_bad_input(tmp_path: Path, make: str) -> None:
    target = tmp_path / "target"
    if make == "file":
        target.write_text("not a bundle\n")
    elif make == "empty":
        target.mkdir()
    elif make == "unrelated":
        target.mkdir()
        (target / "notes.txt").write_text("hello\n")
    result = run_cli("check", str(target))
    assert result.code == 2
    assert str(target) in result.stderr and "hint:" in result.stderr
    no_traceback(result.stderr)


def test_corrupt_manifest_is_bad_input(clean_bundle: Path) -> None:
    (clean_bundle / "manifest.json").write_text("{not json")
    result = run_cli("check", str(clean_bundle))
    assert result.code == 2 and "manifest.json" in result.stderr
    no_traceback(result.stderr)


def test_unparsable_yaml_in_the_bundle_is_bad_input(clean_bundle: Path) -> None:
    (clean_bundle / "kubernetes" / "broken.yaml").write_text("kind: [unclosed\n")
    result = run_cli("check", str(clean_bundle))
    assert result.code == 2 and "kubernetes/broken.yaml" in result.stderr
    no_traceback(result.stderr)


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--fail-on", "severe", "low, medium, high, critical"),
    ("--format", "xml", "text, json, sarif"),
])
def test_bad_option_values_list_what_is_allowed(clean_bundle: Path, option: str, value: str, allowed: str) -> None:
    result = run_cli("check", str(clean_bundle), option, value)
    assert result.code == 2
    assert option in result.stderr and allowed in result.stderr
    no_traceback(result.stderr)


def test_missing_argument_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 2
    assert "Missing argument" in result.stderr
    no_traceback(result.stderr)


def test_a_rendered_bundle_is_checked_from_its_own_folder(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert run_cli("render", str(STACK), "--out", str(bundle)).code == 0
    result = run_cli("check", str(bundle), "-f", "json")
    assert result.code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["findings"] == []
    checked = json.loads(result.stdout)["checked"]
    assert "compose/compose.yaml" in checked
    assert any(path.startswith("docker/") and "/Dockerfile" in path for path in checked)
