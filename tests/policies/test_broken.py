"""Deliberately broken files trigger at least the rules their expectation list names."""

from __future__ import annotations

import pytest
import yaml
from policy_harness import BROKEN

from slm_deploy.policies.offline import check_files
from slm_deploy.policies.registry import all_rules

EXPECTATIONS = yaml.safe_load((BROKEN / "expectations.yaml").read_text())


def test_every_broken_file_has_an_expectation_list() -> None:
    files = {p.relative_to(BROKEN).as_posix() for p in BROKEN.rglob("*") if p.is_file() and p.name != "expectations.yaml"}
    assert files == set(EXPECTATIONS)
    known = {r.id for r in all_rules()}
    assert all(set(ids) <= known for ids in EXPECTATIONS.values())


@pytest.mark.parametrize("relative", sorted(EXPECTATIONS))
def test_broken_file_triggers_expected_rules(relative: str) -> None:
    report = check_files([BROKEN / relative])
    missing = set(EXPECTATIONS[relative]) - {f.rule for f in report.findings}
    assert not missing, f"{relative}: expected rules not reported: {sorted(missing)}"
    assert all("placeholder-token" not in f.message for f in report.findings)
