"""A waiver must name something the rendered bundle holds and its rule judges: one that matches nothing is stale
(a renamed resource, a misspelt path) and hides from a security review that the exception no longer applies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slm_deploy.errors import Problem

if TYPE_CHECKING:
    from slm_deploy.policies.bundle import Subject
    from slm_deploy.policies.model import Rule
    from slm_deploy.policies.waivers import Waiver
    from slm_deploy.spec.deployment import DeploymentSpec

BUNDLE = "bundle"
"""The resource name of findings about the bundle as a whole (cross-object rules, the images' build state)."""


def _judges(rule: Rule, subject: Subject, waiver: Waiver) -> bool:
    return rule.scope == "resource" and subject.kind in rule.kinds and waiver.matches(
        rule.id, subject.resource, subject.location)


def _names_the_bundle(rule: Rule, subjects: list[Subject]) -> bool:
    """Bundle-wide rules judge the Kubernetes objects together; the image digest rule also judges the build state."""
    from slm_deploy.policies.bundle import HOST_INSTALL  # noqa: PLC0415
    from slm_deploy.policies.rules.serving_004_image_digest import RULE as IMAGE_DIGEST_RULE  # noqa: PLC0415

    kubernetes = any(s.kind not in ("Dockerfile", "ComposeProject", HOST_INSTALL) for s in subjects)
    return (rule.scope == BUNDLE and kubernetes) or rule.id == IMAGE_DIGEST_RULE.id


def stale_waiver_problems(spec: DeploymentSpec, files: dict[str, str]) -> list[Problem]:
    """One problem per waiver naming no resource of `files` that its rule judges (the resource is never echoed)."""
    if not spec.waivers:
        return []
    # the policy pack loads only for specs that waive a rule
    from slm_deploy.policies.bundle import is_checked, load_text  # noqa: PLC0415
    from slm_deploy.policies.registry import all_rules  # noqa: PLC0415
    from slm_deploy.policies.waivers import Waiver  # noqa: PLC0415

    rules = {rule.id: rule for rule in all_rules()}
    subjects = [s for path, text in files.items() if is_checked(path) for s in load_text(text, path)]
    problems = []
    for index, entry in enumerate(spec.waivers):
        rule, waiver = rules[entry.rule], Waiver(entry.rule, entry.resource, entry.reason)
        if entry.resource == BUNDLE:
            found = _names_the_bundle(rule, subjects)
        else:
            found = any(_judges(rule, subject, waiver) for subject in subjects)
        if not found:
            problems.append(Problem(
                f"waivers[{index}].resource", f"names nothing in the rendered bundle that {rule.id} judges, so the "
                "waiver is stale", allowed="a resource the rule judges: Kind/namespace/name (or Kind/name) of a "
                "rendered object, a bundle path such as compose/compose.yaml or docker/<service>/Dockerfile, or "
                "`bundle` for a bundle-wide rule", hint="correct the resource, or remove the waiver; `slm-deploy "
                "check --format json` lists each finding's resource"))
    return problems
