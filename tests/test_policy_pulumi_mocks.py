"""Every resource the Pulumi program registers for an example stack passes the CrossGuard pack, as at preview."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from slm_deploy.policies.crossguard import build_policies, classify
from slm_deploy.policies.system_waivers import SYSTEM_WAIVERS
from tests.conftest import STACKS, stack_id
from tests.policies.policy_harness import run_resource_policy, run_stack_policy_over
from tests.test_pulumi_components import plain
from tests.test_pulumi_program import run_program

RESOURCE_POLICIES = [p for p in build_policies() if isinstance(p, ResourceValidationPolicy)]
STACK_POLICIES = [p for p in build_policies() if isinstance(p, StackValidationPolicy)]


@dataclass(frozen=True)
class Registration:
    """One custom resource the program registered: its type token, name and inputs (secrets unwrapped)."""

    typ: str
    name: str
    inputs: dict[str, Any]


@pytest.fixture(scope="module", params=STACKS, ids=stack_id)
def registered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Registration]:
    """The custom resources of one example stack under mocks."""
    stack: Path = request.param
    mocks = run_program(stack, tmp_path_factory.mktemp(stack_id(stack)))
    return [Registration(r.typ, r.name, plain(dict(r.inputs))) for r in mocks.resources if r.custom]


def resource_violations(registrations: list[Registration],
                        skipped: dict[tuple[str, str], list[str]] | None = None) -> dict[tuple[str, str], list[str]]:
    """Every ResourceValidationPolicy run on every registration through CrossGuard's proxies."""
    found: dict[tuple[str, str], list[str]] = {}
    for reg in registrations:
        for policy in RESOURCE_POLICIES:
            reasons: list[str] = []  # not applicable, as the servicer reports it: no violation, but a reason
            messages = run_resource_policy(policy, reg.typ, reg.inputs, name=reg.name, not_applicable=reasons)
            if messages:
                found[(policy.name, reg.name)] = messages
            if reasons and skipped is not None:
                skipped[(policy.name, reg.name)] = reasons
    return found


def stack_violations(registrations: list[Registration]) -> dict[str, list[str]]:
    """Every StackValidationPolicy run over the whole list of registrations."""
    resources = [(reg.typ, reg.name, reg.inputs) for reg in registrations]
    found = {policy.name: run_stack_policy_over(policy, resources) for policy in STACK_POLICIES}
    return {name: messages for name, messages in found.items() if messages}


def describe(found: dict) -> str:
    return "\n".join(f"{key}: {message}" for key, messages in sorted(found.items()) for message in messages)


def test_every_registration_passes_every_resource_policy(registered: list[Registration]) -> None:
    found = resource_violations(registered)
    assert found == {}, describe(found)


def test_policies_step_aside_only_for_the_pack_s_own_waivers(registered: list[Registration]) -> None:
    """A policy may report itself not applicable only through system_waivers, naming the waived object."""
    skipped: dict[tuple[str, str], list[str]] = {}
    resource_violations(registered, skipped)
    waived = {(w.waiver.rule, f"waived for {w.waiver.resource}: {w.waiver.reason}") for w in SYSTEM_WAIVERS}
    unexpected = {key: reasons for key, reasons in skipped.items()
                  if any((key[0], reason) not in waived for reason in reasons)}
    assert unexpected == {}, describe(unexpected)


def test_the_stack_passes_every_stack_policy(registered: list[Registration]) -> None:
    found = stack_violations(registered)
    assert found == {}, describe(found)


def test_the_pack_sees_what_the_program_registers(registered: list[Registration]) -> None:
    """Images carry inline Dockerfiles and every Kubernetes or Azure resource maps to a rule kind."""
    images = [r for r in registered if r.typ == "docker-build:index:Image"]
    assert all(isinstance(r.inputs.get("dockerfile", {}).get("inline"), str) for r in images), \
        "the Dockerfile rules cannot read an Image whose Dockerfile is not inline"
    for reg in registered:
        if reg.typ.startswith("kubernetes:") and not reg.typ.startswith("kubernetes:yaml"):
            assert classify(reg.typ) is not None, reg.typ


def _runtime_deployment(registrations: list[Registration]) -> Registration:
    """The serving runtime's Deployment, by its component label: registration order varies with the monitoring stack."""
    return next(r for r in registrations if r.typ == "kubernetes:apps/v1:Deployment"
                and r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == "runtime")


def test_a_weakened_registration_is_reported(tmp_path: Path) -> None:
    """The harness is live on real registrations: a privileged runtime container and a Dockerfile run as root."""
    stack = next(s for s in STACKS if stack_id(s) == "phi4-vllm-aks")
    registrations = [Registration(r.typ, r.name, plain(dict(r.inputs)))
                     for r in run_program(stack, tmp_path).resources if r.custom]
    deployment = _runtime_deployment(registrations)
    weakened = copy.deepcopy(deployment.inputs)
    weakened["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    image = next(r for r in registrations if r.typ == "docker-build:index:Image")
    as_root = copy.deepcopy(image.inputs)
    as_root["dockerfile"]["inline"] += "\nUSER root\n"
    found = resource_violations([Registration(deployment.typ, deployment.name, weakened),
                                 Registration(image.typ, image.name, as_root)])
    assert ("slm-k8s-002", deployment.name) in found
    assert ("slm-docker-001", image.name) in found


def test_a_second_public_entry_point_fails_a_stack_policy(tmp_path: Path) -> None:
    """Stack policies see the whole registration list: an Ingress to the runtime bypasses the gateway."""
    stack = next(s for s in STACKS if stack_id(s) == "phi4-vllm-aks")
    registrations = [Registration(r.typ, r.name, plain(dict(r.inputs)))
                     for r in run_program(stack, tmp_path).resources if r.custom]
    runtime = _runtime_deployment(registrations)
    namespace = runtime.inputs["metadata"]["namespace"]
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "direct", "namespace": namespace},
               "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                   "service": {"name": runtime.inputs["metadata"]["name"], "port": {"number": 8000}}}}]}}]}}
    found = stack_violations([*registrations,
                              Registration("kubernetes:networking.k8s.io/v1:Ingress", "ingress-direct", ingress)])
    assert "slm-serving-010" in found, describe(found)
