"""Rule metadata is complete and consistent; the catalogue is current; config defaults match the code."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from policy_harness import load_compliant
from policy_mutations import MUTATIONS

from slm_deploy.policies.catalogue import render_catalogue
from slm_deploy.policies.crossguard import build_policies, config_schema_of
from slm_deploy.policies.model import RULE_ID, Severity
from slm_deploy.policies.registry import all_rules, rules_for_benchmark

RULES = all_rules()
CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "policy-catalogue.md"
FIXTURES = load_compliant()


def test_ids_and_names_are_unique_and_well_formed() -> None:
    ids = [r.id for r in RULES]
    names = [r.name for r in RULES]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    assert all(RULE_ID.match(i) for i in ids)
    assert "all" not in ids


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_metadata_is_complete(rule) -> None:
    assert isinstance(rule.severity, Severity)
    assert rule.name.endswith(".") and rule.name.count(". ") == 0, "name is one sentence"
    assert len(rule.rationale) > 40 and len(rule.remediation) > 10
    assert rule.tags and rule.controls and rule.kinds
    assert rule.id.split("-")[1] in {"docker", "k8s", "aks", "secrets", "compose", "serving"}


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_compliant_fixture_and_a_mutation_per_control(rule) -> None:
    if rule.scope == "resource":
        assert any(f.kind in rule.kinds for f in FIXTURES.values()), "no compliant fixture"
    covered = {m.control for m in MUTATIONS if m.rule == rule.id}
    assert covered == set(rule.controls), f"controls without a failing mutation: {set(rule.controls) - covered}"


def test_every_hardening_control_is_covered() -> None:
    controls = {c for r in RULES for c in r.controls}
    expected = {f"D{i}" for i in range(1, 12)} | {f"K{i}" for i in range(1, 21)} | {f"A{i}" for i in range(1, 10)}
    assert expected <= controls


def test_crossguard_policies_carry_metadata() -> None:
    policies = build_policies()
    assert len({p.name for p in policies}) == len(policies)
    for policy in policies:
        rule = next(r for r in RULES if r.id == policy.name)
        assert policy.severity.value == rule.severity.value
        assert policy.remediation_steps == rule.remediation
        assert policy.tags == rule.all_tags()
        if rule.benchmarks:
            assert policy.framework.name == rule.benchmarks[0].framework
            assert policy.framework.version == rule.benchmarks[0].version
            assert all(tag in policy.tags for b in rule.benchmarks for tag in b.tags())


@pytest.mark.parametrize("rule", [r for r in RULES if r.options], ids=[r.id for r in RULES if r.options])
def test_config_schema_defaults_equal_code_defaults(rule) -> None:
    schema = config_schema_of(rule)
    jsonschema.Draft7Validator.check_schema({"type": "object", "properties": schema.properties})
    defaults = {k: v["default"] for k, v in schema.properties.items()}
    assert defaults == rule.config_defaults()
    floats = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in defaults.items()}
    for fixture in FIXTURES.values():
        if fixture.kind in rule.kinds:
            subject = fixture.subject()
            assert rule.evaluate(subject, fixture.kind, floats) == rule.evaluate(subject, fixture.kind, {})


def test_config_overrides_change_the_outcome() -> None:
    k8s_005 = next(r for r in RULES if r.id == "slm-k8s-005")
    deployment = FIXTURES["deployment-vllm"]
    assert k8s_005.evaluate(deployment.manifest, "Deployment", {"minUid": 20000.0})
    allow = next(r for r in RULES if r.id == "slm-serving-001")
    import copy
    trusting = copy.deepcopy(deployment.manifest)
    trusting["spec"]["template"]["spec"]["containers"][0]["args"].append("--trust-remote-code")
    assert allow.evaluate(trusting, "Deployment")
    assert allow.evaluate(trusting, "Deployment", {"trustRemoteCodeAllowlist": ["microsoft/Phi-4-mini-instruct"]}) == []


def test_catalogue_is_current() -> None:
    assert CATALOGUE.read_text(encoding="utf-8") == render_catalogue(), \
        "regenerate: python -m slm_deploy.policies.catalogue --write docs/policy-catalogue.md"


def test_catalogue_lists_every_rule_with_its_mapping() -> None:
    text = render_catalogue()
    for rule in RULES:
        assert f"### {rule.id}" in text and rule.remediation in text
        for bench in rule.benchmarks:
            assert ", ".join(bench.ids) in text


def test_benchmark_lookup_finds_rules_for_scanner_ids() -> None:
    assert [r.id for r in rules_for_benchmark("Trivy", "KSV-0017")] == ["slm-k8s-002"]
    assert "slm-docker-005" in [r.id for r in rules_for_benchmark("trivy", "DS-0031")]
    assert rules_for_benchmark("Trivy", "KSV-9999") == ()
