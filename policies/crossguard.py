"""CrossGuard front end: one Resource- or StackValidationPolicy per rule, matched by resource type token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (EnforcementLevel, PolicyComplianceFramework, PolicyConfigSchema, ReportViolation,
                           ResourceValidationArgs, ResourceValidationPolicy, Severity as PulumiSeverity,
                           StackValidationArgs, StackValidationPolicy)

from slm_deploy.policies.dockerfile import parse_dockerfile
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.registry import all_rules
from slm_deploy.policies.system_waivers import system_waiver

PACK_NAME = "slm-deploy-hardening"
K8S_TOKEN = re.compile(r"^kubernetes:[A-Za-z0-9.-]+(?:/[A-Za-z0-9]+)?:([A-Za-z]+)$")
AZURE_KINDS = {
    "azure-native:containerservice:ManagedCluster": "ManagedCluster",
    "azure-native:containerservice:AgentPool": "AgentPool",
    "azure-native:keyvault:Vault": "Vault",
    "azure-native:keyvault:Secret": "KeyVaultSecret",
    "azure-native:keyvault:Key": "KeyVaultKey",
    "azure-native:monitor:DiagnosticSetting": "DiagnosticSetting",
    "azure-native:authorization:RoleAssignment": "RoleAssignment",
    "azure-native:managedidentity:FederatedIdentityCredential": "FederatedIdentityCredential",
}
SEVERITIES = {Severity.LOW: PulumiSeverity.LOW, Severity.MEDIUM: PulumiSeverity.MEDIUM,
              Severity.HIGH: PulumiSeverity.HIGH, Severity.CRITICAL: PulumiSeverity.CRITICAL}


def classify(resource_type: str) -> tuple[str, bool] | None:
    """The rule kind a Pulumi type token maps to and whether it is a server-side-apply patch."""
    if resource_type in AZURE_KINDS:
        return AZURE_KINDS[resource_type], False
    if resource_type == "docker-build:index:Image":
        return "Dockerfile", False
    match = K8S_TOKEN.match(resource_type)
    if match:
        kind = match.group(1)
        if kind.endswith("Patch"):
            return kind[: -len("Patch")], True
        return kind, False
    return None


def subject_for(kind: str, props: Mapping[str, Any]) -> Any:
    """What a rule reads: the props, or for docker-build the parsed inline Dockerfile (None when absent)."""
    if kind != "Dockerfile":
        return props
    dockerfile = props.get("dockerfile")
    inline = dockerfile.get("inline") if isinstance(dockerfile, Mapping) else None
    return parse_dockerfile(inline) if isinstance(inline, str) else None


def framework_of(rule: Rule) -> PolicyComplianceFramework | None:
    """The rule's first benchmark as the Pulumi compliance framework (the rest travel as tags)."""
    if not rule.benchmarks:
        return None
    first = rule.benchmarks[0]
    return PolicyComplianceFramework(name=first.framework, version=first.version,
                                     reference=", ".join(first.ids), specification=rule.id)


def config_schema_of(rule: Rule) -> PolicyConfigSchema | None:
    """The rule's options as a CrossGuard config schema whose defaults are the code defaults."""
    if not rule.options:
        return None
    return PolicyConfigSchema(properties={o.name: dict(o.schema, description=o.description)
                                          for o in rule.options})


def _resource_validator(rule: Rule):
    """A validate callback that runs the rule on matching resources only."""
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        classified = classify(args.resource_type)
        if classified is None or classified[0] not in rule.kinds:
            return
        kind, patch = classified
        subject = subject_for(kind, args.props)
        if subject is None:
            args.not_applicable("the Dockerfile is not inline, so its text is not visible to policies")
        violations = list(rule.evaluate(subject, kind, args.get_config(), patch=patch))
        waiver = system_waiver(rule.id, kind, args.props) if violations else None
        if waiver is not None:
            args.not_applicable(f"waived for {waiver.resource}: {waiver.reason}")
            return
        for violation in violations:
            report_violation(violation.message, None)
    return validate


def _stack_validator(rule: Rule):
    """A validate callback that runs a bundle rule over every Kubernetes resource of the stack."""
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        manifests = []
        for resource in args.resources:
            classified = classify(resource.resource_type)
            if classified is not None and not classified[1] and resource.resource_type.startswith("kubernetes:"):
                manifests.append(_with_kind(resource.props, classified[0]))
        for violation in rule.evaluate(manifests, "Bundle", args.get_config()):
            report_violation(violation.message, None)
    return validate


def _with_kind(props: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """Stack outputs may omit `kind`; give bundle rules a view that always has it."""
    if props.get("kind") == kind:
        return props
    view = {k: props[k] for k in props}
    view["kind"] = kind
    return view


def policy_for(rule: Rule, enforcement: EnforcementLevel = EnforcementLevel.MANDATORY
               ) -> StackValidationPolicy | ResourceValidationPolicy:
    """The CrossGuard policy object for one rule."""
    common: dict[str, Any] = dict(
        name=rule.id, description=rule.name, enforcement_level=enforcement, config_schema=config_schema_of(rule),
        display_name=rule.name, severity=SEVERITIES[rule.severity], framework=framework_of(rule),
        tags=rule.all_tags(), remediation_steps=rule.remediation,
    )
    if rule.scope == "bundle":
        return StackValidationPolicy(validate=_stack_validator(rule), **common)
    return ResourceValidationPolicy(validate=_resource_validator(rule), **common)


def build_policies(enforcement: EnforcementLevel = EnforcementLevel.MANDATORY) -> list:
    """Every CrossGuard policy of the pack (rules marked offline-only are left out)."""
    return [policy_for(rule, enforcement) for rule in all_rules() if rule.crossguard]
