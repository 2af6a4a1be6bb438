"""Offline front end: run every applicable rule over a rendered bundle and report the findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slm_deploy.policies.builds import build_state_problems, built_image_options, verified_builds
from slm_deploy.policies.bundle import HOST_INSTALL, SQUID_CONFIG, Subject, load_bundle, load_file, read_manifest
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.registry import all_rules
from slm_deploy.policies.built_images import built_images
from slm_deploy.policies.rules.serving_004_image_digest import RULE as IMAGE_DIGEST_RULE
from slm_deploy.policies.system_waivers import system_waiver
from slm_deploy.policies.waivers import Waiver, load_waivers


@dataclass(frozen=True)
class Finding:
    """One violation of one rule by one resource."""

    rule: str
    severity: Severity
    resource: str
    location: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class WaivedFinding:
    """A finding a waiver switched off, kept so the report shows it with the reason."""

    finding: Finding
    waiver: Waiver


@dataclass(frozen=True)
class Report:
    """Everything a check found: open findings, waived findings, waivers and what was checked."""

    findings: tuple[Finding, ...]
    waived: tuple[WaivedFinding, ...]
    waivers: tuple[Waiver, ...]
    checked: tuple[str, ...] = field(default_factory=tuple)
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def waivers_applied(self) -> tuple[Waiver, ...]:
        """Waivers that matched at least one finding, in input order."""
        used = {w.waiver for w in self.waived}
        return tuple(w for w in self.waivers if w in used)

    @property
    def waivers_unused(self) -> tuple[Waiver, ...]:
        """Waivers that matched nothing (stale or misspelt)."""
        used = {w.waiver for w in self.waived}
        return tuple(w for w in self.waivers if w not in used)

    def rule_ids(self) -> set[str]:
        """Ids of the rules with open findings."""
        return {f.rule for f in self.findings}


def _evaluate(rule: Rule, subject_kind: str, manifest: Any, resource: str, location: str,
              config: Mapping[str, Any] | None = None) -> list[Finding]:
    """Run one rule on one subject."""
    return [Finding(rule.id, rule.severity, resource, location, v.message, v.line)
            for v in rule.evaluate(manifest, subject_kind, config)]


def check_subjects(subjects: Sequence[Subject], waivers: Iterable[Mapping[str, Any] | Waiver] | None = (),
                   rules: Sequence[Rule] | None = None,
                   config: Mapping[str, Mapping[str, Any]] | None = None,
                   found: Sequence[Finding] = ()) -> Report:
    """Run resource rules on each subject and bundle rules over all Kubernetes objects, then apply waivers.

    `config` maps rule ids to option values, as CrossGuard's policy config does; `found` adds findings made
    outside the rules (such as a bundle's build state), so waivers and the report treat them alike."""
    active = tuple(rules) if rules is not None else all_rules()
    config = config or {}
    valid_waivers = load_waivers(waivers)
    raw: list[Finding] = list(found)
    waived: list[WaivedFinding] = []
    for subject in subjects:
        for rule in active:
            if rule.scope == "resource" and subject.kind in rule.kinds:
                hits = _evaluate(rule, subject.kind, subject.manifest, subject.resource, subject.location,
                                 config.get(rule.id))
                exempt = system_waiver(rule.id, subject.kind, subject.manifest) if hits else None
                if exempt is None:
                    raw.extend(hits)
                else:  # the pack's own waiver, exactly as CrossGuard applies it
                    waived.extend(WaivedFinding(finding, exempt) for finding in hits)
    k8s = [s for s in subjects if s.kind not in ("Dockerfile", "ComposeProject", HOST_INSTALL, SQUID_CONFIG)]
    if k8s:
        manifests = [s.manifest for s in k8s]
        for rule in active:
            if rule.scope == "bundle":
                raw.extend(_evaluate(rule, "Bundle", manifests, "bundle", "kubernetes/", config.get(rule.id)))
    findings: list[Finding] = []
    system = tuple(dict.fromkeys(w.waiver for w in waived))
    for finding in raw:
        match = next((w for w in valid_waivers if w.matches(finding.rule, finding.resource, finding.location)), None)
        if match is None:
            findings.append(finding)
        else:
            waived.append(WaivedFinding(finding, match))
    order = lambda f: (-f.severity.rank, f.rule, f.location, f.resource, f.line or 0, f.message)  # noqa: E731
    return Report(tuple(sorted(findings, key=order)), tuple(sorted(waived, key=lambda w: order(w.finding))),
                  (*valid_waivers, *system), tuple(sorted({s.location for s in subjects})), active)


def check_bundle(path: Path, waivers: Iterable[Mapping[str, Any] | Waiver] | None = (),
                 config: Mapping[str, Mapping[str, Any]] | None = None) -> Report:
    """Check a bundle directory (docker/*/Dockerfile, compose/compose.yaml, kubernetes/*.yaml).

    Images the bundle builds count as pinned under the content tag their build context hashes to while manifest.json
    records them as not pushed, and only by the digest it records once `slm-deploy build --push` pinned them;
    `config` gives rule options (rule id -> options), such as the spec's trust-remote-code allow-list."""
    root = Path(path)
    subjects = load_bundle(root)
    manifest = read_manifest(root)
    options = {**(config or {}), IMAGE_DIGEST_RULE.id: {"verifiedBuilds": verified_builds(root),
                                                        "builtImages": built_image_options(built_images(manifest))}}
    state = [Finding(IMAGE_DIGEST_RULE.id, IMAGE_DIGEST_RULE.severity, "bundle", location, message)
             for location, message in build_state_problems(root, manifest)]
    return check_subjects(subjects, waivers, config=options, found=state)


def check_files(paths: Iterable[Path], waivers: Iterable[Mapping[str, Any] | Waiver] | None = ()) -> Report:
    """Check loose files (a Dockerfile, a compose file, Kubernetes YAML) as if they formed one bundle."""
    subjects: list[Subject] = []
    for path in paths:
        subjects.extend(load_file(Path(path), Path(path).as_posix()))
    return check_subjects(subjects, waivers)


def fails(report: Report, fail_on: str | Severity) -> bool:
    """Whether any open finding is at or above the --fail-on severity."""
    threshold = fail_on if isinstance(fail_on, Severity) else Severity.parse(fail_on)
    return any(f.severity.rank >= threshold.rank for f in report.findings)
