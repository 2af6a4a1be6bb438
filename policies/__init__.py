"""slm-deploy's policy pack: hardening rules that run as CrossGuard policies and offline over a bundle.

Public API for the CLI and other tools:
    check_bundle(path, waivers=()) -> Report       run every applicable rule over a rendered bundle
    check_files(paths, waivers=()) -> Report       the same over loose files
    to_text / to_json / to_sarif (report) -> str   formatters (SARIF 2.1.0)
    fails(report, "high") -> bool                  --fail-on threshold
    load_waivers(raw) -> tuple[Waiver, ...]        validate waivers (WaiverError without a reason)
    all_rules(), rule_by_id(id), rules_for_benchmark(framework, id), render_catalogue()
The CrossGuard pack itself lives in crossguard.py (build_policies) and __main__.py.
"""

from slm_deploy.policies.catalogue import render_catalogue
from slm_deploy.policies.formats import to_json, to_sarif, to_text
from slm_deploy.policies.model import Severity
from slm_deploy.policies.offline import Finding, Report, WaivedFinding, check_bundle, check_files, fails
from slm_deploy.policies.registry import all_rules, rule_by_id, rules_for_benchmark
from slm_deploy.policies.waivers import Waiver, WaiverError, load_waivers

__all__ = [
    "Finding", "Report", "Severity", "WaivedFinding", "Waiver", "WaiverError", "all_rules", "check_bundle",
    "check_files", "fails", "load_waivers", "render_catalogue", "rule_by_id", "rules_for_benchmark", "to_json",
    "to_sarif", "to_text",
]
