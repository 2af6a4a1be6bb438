"""The CrossGuard pack as the Pulumi CLI drives it: servicer, enforcement, severity, config, unknowns."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from policy_harness import load_compliant, mutated, run_resource_policy
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _NotApplicableError, _PolicyAnalyzerServicer

from slm_deploy.policies.crossguard import PACK_NAME, build_policies, classify

FIXTURES = load_compliant()
POLICIES = build_policies()
BY_NAME = {p.name: p for p in POLICIES}
UNKNOWN = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


def servicer() -> _PolicyAnalyzerServicer:
    """The private analyzer the Pulumi CLI talks to, without the gRPC server."""
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, EnforcementLevel.MANDATORY)


def analyze(server, token: str, props: dict, name: str = "d"):
    """Send one resource through Analyze as the CLI would."""
    request = proto.AnalyzeRequest(type=token, urn=f"urn:pulumi:s::p::{token}::{name}", name=name)
    json_format.ParseDict(props, request.properties)
    return server.Analyze(request, None)


def test_tokens_map_to_rule_kinds() -> None:
    assert classify("kubernetes:apps/v1:Deployment") == ("Deployment", False)
    assert classify("kubernetes:apps/v1:DeploymentPatch") == ("Deployment", True)
    assert classify("kubernetes:core/v1:Service") == ("Service", False)
    assert classify("kubernetes:networking.k8s.io/v1:NetworkPolicy") == ("NetworkPolicy", False)
    assert classify("docker-build:index:Image") == ("Dockerfile", False)
    assert classify("azure-native:containerservice:ManagedCluster") == ("ManagedCluster", False)
    assert classify("aws:s3/bucket:Bucket") is None


def test_pack_has_resource_and_stack_policies() -> None:
    assert any(isinstance(p, StackValidationPolicy) for p in POLICIES)
    assert sum(isinstance(p, ResourceValidationPolicy) for p in POLICIES) > 50
    info = servicer().GetAnalyzerInfo(None, None)
    assert {p.name for p in info.policies} == set(BY_NAME)


def test_compliant_deployment_has_no_diagnostics_through_the_servicer() -> None:
    response = analyze(servicer(), "kubernetes:apps/v1:Deployment", FIXTURES["deployment-vllm"].manifest)
    assert list(response.diagnostics) == []


def test_violation_is_mandatory_with_severity_and_description() -> None:
    privileged = mutated(FIXTURES["deployment-vllm"], lambda m: m["spec"]["template"]["spec"]["containers"][0]
                         ["securityContext"].update(privileged=True))
    response = analyze(servicer(), "kubernetes:apps/v1:Deployment", privileged.manifest)
    diagnostics = [d for d in response.diagnostics if d.policyName == "slm-k8s-002"]
    assert len(diagnostics) == 1
    assert diagnostics[0].enforcementLevel == proto.MANDATORY
    assert diagnostics[0].severity == proto.POLICY_SEVERITY_CRITICAL
    assert "privileged is true" in diagnostics[0].message


def test_config_override_from_the_cli_is_honoured_with_float_numbers() -> None:
    server = servicer()
    request = proto.ConfigureAnalyzerRequest()
    request.policyConfig["slm-k8s-005"].enforcementLevel = proto.ADVISORY
    json_format.ParseDict({"minUid": 20000}, request.policyConfig["slm-k8s-005"].properties)
    server.Configure(request, None)
    response = analyze(server, "kubernetes:apps/v1:Deployment", FIXTURES["deployment-vllm"].manifest)
    diagnostics = [d for d in response.diagnostics if d.policyName == "slm-k8s-005"]
    assert diagnostics and all(d.enforcementLevel == proto.ADVISORY for d in diagnostics)
    assert all("at least 20000" in d.message for d in diagnostics)


def test_unknown_security_field_during_preview_is_reported_not_crashed() -> None:
    unknown = mutated(FIXTURES["deployment-vllm"], lambda m: m["spec"]["template"]["spec"]["containers"][0]
                      ["securityContext"].update(allowPrivilegeEscalation=UNKNOWN))
    response = analyze(servicer(), "kubernetes:apps/v1:Deployment", unknown.manifest)
    diagnostics = [d for d in response.diagnostics if d.policyName == "slm-k8s-003"]
    assert len(diagnostics) == 1
    assert "during preview" in diagnostics[0].message
    assert diagnostics[0].enforcementLevel == proto.ADVISORY


def test_secret_values_never_reach_diagnostics() -> None:
    secret = FIXTURES["kv-secret"]
    broken = mutated(secret, lambda m: m["properties"].pop("contentType"))
    response = analyze(servicer(), secret.token, broken.manifest)
    assert response.diagnostics
    assert all("s3cr3t" not in d.message for d in response.diagnostics)


def test_docker_build_image_without_inline_dockerfile_is_not_applicable() -> None:
    with pytest.raises(_NotApplicableError):
        run_resource_policy(BY_NAME["slm-docker-001"], "docker-build:index:Image",
                            {"dockerfile": {"location": "docker/vllm/Dockerfile"}})
    response = analyze(servicer(), "docker-build:index:Image", {"dockerfile": {"location": "x/Dockerfile"}})
    assert list(response.diagnostics) == []
    assert "slm-docker-001" in {n.policy_name for n in response.not_applicable}


def test_docker_build_inline_dockerfile_is_checked() -> None:
    root = {"dockerfile": {"inline": "FROM debian:12\nCMD [\"x\"]\n"}}
    response = analyze(servicer(), "docker-build:index:Image", root)
    assert {"slm-docker-001", "slm-docker-002", "slm-docker-003"} <= {d.policyName for d in response.diagnostics}
