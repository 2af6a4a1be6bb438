"""Report formatters: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning tools."""

from __future__ import annotations

import json
from typing import Any

from slm_deploy import __version__
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.offline import Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {Severity.LOW: "note", Severity.MEDIUM: "warning", Severity.HIGH: "error", Severity.CRITICAL: "error"}
SECURITY_SEVERITY = {Severity.LOW: "3.0", Severity.MEDIUM: "5.5", Severity.HIGH: "8.0", Severity.CRITICAL: "9.5"}


def _where(finding: Finding) -> str:
    """file[:line] (resource) for text output."""
    place = finding.location + (f":{finding.line}" if finding.line else "")
    return place if finding.resource == finding.location else f"{place} ({finding.resource})"


def to_text(report: Report) -> str:
    """A readable report: findings by severity, then waivers with their reasons, then a summary."""
    lines = [f"{f.severity.value.upper():8} {f.rule}  {_where(f)}: {f.message}" for f in report.findings]
    if report.waived:
        lines.append("")
        lines.append("Waived:")
        lines.extend(f"  {w.finding.rule}  {_where(w.finding)}: {w.waiver.reason}" for w in report.waived)
    for waiver in report.waivers_unused:
        lines.append(f"unused waiver: {waiver.rule} for {waiver.resource}")
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "no findings"
    lines.append(f"{len(report.checked)} files checked, {len(report.findings)} findings ({summary}), "
                 f"{len(report.waived)} waived")
    return "\n".join(lines).lstrip("\n") + "\n"


def _finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as plain JSON data."""
    return {"rule": finding.rule, "severity": finding.severity.value, "resource": finding.resource,
            "location": finding.location, "line": finding.line, "message": finding.message}


def to_json(report: Report) -> str:
    """Stable JSON: findings, waived findings with reasons, waivers applied and unused, counts."""
    data = {
        "findings": [_finding_dict(f) for f in report.findings],
        "waived": [dict(_finding_dict(w.finding), reason=w.waiver.reason) for w in report.waived],
        "waiversApplied": [vars_of(w) for w in report.waivers_applied],
        "waiversUnused": [vars_of(w) for w in report.waivers_unused],
        "checked": list(report.checked),
        "summary": {s.value: sum(1 for f in report.findings if f.severity is s) for s in Severity},
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def vars_of(waiver) -> dict[str, str]:
    """A waiver as plain JSON data."""
    return {"rule": waiver.rule, "resource": waiver.resource, "reason": waiver.reason}


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    """A reportingDescriptor for one rule."""
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.name},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.remediation, "markdown": f"**Remediation:** {rule.remediation}"},
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {"tags": ["security", *rule.all_tags()], "security-severity": SECURITY_SEVERITY[rule.severity],
                       "precision": "high", "problem.severity": rule.severity.value},
    }


def _sarif_result(finding: Finding, index: dict[str, int], reason: str | None = None) -> dict[str, Any]:
    """A result for one finding, with a suppression when waived."""
    physical: dict[str, Any] = {"artifactLocation": {"uri": finding.location, "uriBaseId": "BUNDLE"}}
    if finding.line:
        physical["region"] = {"startLine": finding.line}
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": SARIF_LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical,
                       "logicalLocations": [{"fullyQualifiedName": finding.resource, "kind": "resource"}]}],
        "partialFingerprints": {"slmDeployFinding/v1": f"{finding.rule}|{finding.resource}|{finding.message}"},
    }
    if reason is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": reason}]
    return result


def to_sarif(report: Report, tool_version: str = __version__) -> str:
    """A SARIF 2.1.0 log with every rule, every finding and waived findings as suppressed results."""
    rules = sorted(report.rules, key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    results = [_sarif_result(f, index) for f in report.findings]
    results += [_sarif_result(w.finding, index, w.waiver.reason) for w in report.waived]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "slm-deploy", "version": tool_version,
                                "rules": [_sarif_rule(r) for r in rules]}},
            "originalUriBaseIds": {"BUNDLE": {"description": {"text": "The bundle directory that was checked"}}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
