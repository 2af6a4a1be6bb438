"""Every rule passes its compliant fixtures and fails each mutation, offline and through CrossGuard."""

from __future__ import annotations

import pytest
from policy_harness import (SENTINEL, Fixture, k8s_fixtures, load_compliant, mutated, run_resource_policy,
                            run_stack_policy)
from policy_mutations import MUTATIONS

from slm_deploy.policies.crossguard import build_policies
from slm_deploy.policies.registry import all_rules, rule_by_id

FIXTURES = load_compliant()
POLICIES = {p.name: p for p in build_policies()}
RESOURCE_PAIRS = [(r.id, f.name) for r in all_rules() if r.scope == "resource"
                  for f in FIXTURES.values() if f.kind in r.kinds]
BUNDLE_RULES = [r.id for r in all_rules() if r.scope == "bundle"]


def offline(rule_id: str, fixture: Fixture, config: dict | None = None) -> list[str]:
    """Messages of one rule on one fixture, called directly."""
    rule = rule_by_id(rule_id)
    return [v.message for v in rule.evaluate(fixture.subject(), fixture.kind, config=config, patch=fixture.patch)]


def crossguard(rule_id: str, fixture: Fixture, config: dict | None = None) -> list[str] | None:
    """Messages of the rule's CrossGuard policy on the fixture's props, or None where Pulumi has no resource."""
    if fixture.token is None or rule_id not in POLICIES:
        return None
    return run_resource_policy(POLICIES[rule_id], fixture.token, fixture.props(), config)


def bundle_with(fixture: Fixture) -> list[Fixture]:
    """The compliant Kubernetes objects with one of them replaced."""
    return [fixture if f.name == fixture.name else f for f in k8s_fixtures(FIXTURES)]


@pytest.mark.parametrize(("rule_id", "fixture_name"), RESOURCE_PAIRS, ids=[f"{r}-{f}" for r, f in RESOURCE_PAIRS])
def test_compliant_fixture_passes(rule_id: str, fixture_name: str) -> None:
    fixture = FIXTURES[fixture_name]
    assert offline(rule_id, fixture) == []
    assert crossguard(rule_id, fixture) in (None, [])


@pytest.mark.parametrize("rule_id", BUNDLE_RULES)
def test_compliant_bundle_passes(rule_id: str) -> None:
    manifests = [f.manifest for f in k8s_fixtures(FIXTURES)]
    assert [v.message for v in rule_by_id(rule_id).evaluate(manifests, "Bundle")] == []
    assert run_stack_policy(POLICIES[rule_id], k8s_fixtures(FIXTURES)) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_is_reported(mutation) -> None:
    rule = rule_by_id(mutation.rule)
    assert mutation.control in rule.controls
    broken = mutated(FIXTURES[mutation.fixture], mutation.apply)
    if rule.scope == "bundle":
        manifests = [f.manifest for f in bundle_with(broken)]
        messages = [v.message for v in rule.evaluate(manifests, "Bundle")]
        through_pulumi = run_stack_policy(POLICIES[rule.id], bundle_with(broken))
    else:
        assert broken.kind in rule.kinds
        messages = offline(rule.id, broken, mutation.config)
        through_pulumi = crossguard(rule.id, broken, mutation.config)
    assert messages, f"{rule.id} missed: {mutation.what}"
    assert any(mutation.expect in m for m in messages), messages
    if through_pulumi is not None:
        assert through_pulumi == messages
    assert not any(SENTINEL in m for m in messages)


CONFIGURED = [m for m in MUTATIONS if m.config]


@pytest.mark.parametrize("mutation", CONFIGURED, ids=[m.id for m in CONFIGURED])
def test_the_unmutated_fixture_passes_under_the_mutation_s_config(mutation) -> None:
    fixture = FIXTURES[mutation.fixture]
    assert offline(mutation.rule, fixture, mutation.config) == []
    assert crossguard(mutation.rule, fixture, mutation.config) in (None, [])


def test_patch_resources_only_fail_on_explicit_weakening() -> None:
    partial = Fixture("p", "Deployment", "kubernetes:apps/v1:DeploymentPatch",
                      {"metadata": {"name": "vllm", "namespace": "llm"}, "spec": {"replicas": 3}}, patch=True)
    for policy in build_policies():
        if hasattr(policy, "validate") and policy.name in {r.id for r in all_rules() if r.scope == "resource"}:
            assert run_resource_policy(policy, partial.token, partial.manifest) == [], policy.name


def test_patch_omitting_a_field_passes_where_a_full_deployment_fails() -> None:
    deployment = FIXTURES["deployment-vllm"]
    weakened = mutated(FIXTURES["deployment-vllm-patch"], lambda m: m["spec"]["template"]["spec"]["containers"][0]
                       ["securityContext"].pop("allowPrivilegeEscalation"))
    assert offline("slm-k8s-003", weakened) == []
    assert offline("slm-k8s-003", mutated(deployment, lambda m: m["spec"]["template"]["spec"]["containers"][0]
                                          ["securityContext"].pop("allowPrivilegeEscalation"))) != []
