"""The rule set, loaded once; lookups reviewers and tools need."""

from __future__ import annotations

from functools import lru_cache

from slm_deploy.policies.model import Rule
from slm_deploy.policies.rules import load_rules


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Every rule of the pack, sorted by id."""
    return load_rules()


def rule_by_id(rule_id: str) -> Rule:
    """One rule by its stable id."""
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)


def rules_for_benchmark(framework: str, control_id: str) -> tuple[Rule, ...]:
    """Rules that map to a benchmark control, e.g. ("Trivy", "KSV-0001") or Trivy's AVD-KSV-0001 spelling."""
    if framework.lower() == "trivy":
        control_id = control_id.removeprefix("AVD-")
    return tuple(r for r in all_rules() for b in r.benchmarks
                 if b.framework.lower() == framework.lower() and control_id in b.ids)
