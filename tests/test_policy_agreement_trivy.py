"""Trivy and the policy pack agree on the deliberately broken files: every control Trivy flags, the pack flags too."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.policies import check_files, rules_for_benchmark
from tests.policies.policy_harness import BROKEN
from tests.support import judges

# The areas Trivy's config scanner covers in a bundle (it has no Compose checks).
TRIVY_AREAS = ("docker", "kubernetes")


@pytest.fixture(scope="module")
def trivy_findings() -> list[judges.Finding]:
    """Trivy's high and critical misconfigurations over every broken file."""
    return judges.trivy_config(BROKEN)


def relative(finding: judges.Finding) -> str:
    return Path(finding.file).resolve().relative_to(BROKEN.resolve()).as_posix()


def pack_rules(path: str) -> set[str]:
    """Rule ids the offline checker reports for one broken file."""
    return {f.rule for f in check_files([BROKEN / path]).findings}


def disagreements(trivy: list[judges.Finding]) -> list[str]:
    """Each Trivy finding that no rule maps to, or whose mapped rules the pack does not report for that file."""
    problems = []
    for finding in trivy:
        path = relative(finding)
        where = f"{path}:{finding.line or '-'} {finding.rule} ({finding.message})"
        mapped = {rule.id for rule in rules_for_benchmark("Trivy", finding.rule)}
        if not mapped:
            problems.append(f"{where}: no rule of the pack maps to this Trivy check")
            continue
        reported = pack_rules(path)
        if not mapped & reported:
            problems.append(f"{where}: maps to {sorted(mapped)} but the pack reports none of them")
    return problems


def test_the_pack_flags_every_control_trivy_flags(trivy_findings: list[judges.Finding]) -> None:
    problems = disagreements(trivy_findings)
    assert problems == [], "Trivy and the pack disagree:\n" + "\n".join(problems)


def test_every_area_trivy_covers_is_exercised(trivy_findings: list[judges.Finding]) -> None:
    flagged = {relative(f).split("/", 1)[0] for f in trivy_findings}
    assert set(TRIVY_AREAS) <= flagged
    for area in TRIVY_AREAS:
        files = {p.relative_to(BROKEN).as_posix() for p in (BROKEN / area).rglob("*") if p.is_file()}
        assert len({relative(f) for f in trivy_findings if relative(f).startswith(f"{area}/")}) >= 2, files


def test_an_unmapped_trivy_check_is_reported_as_a_disagreement() -> None:
    """The comparison itself fails when Trivy flags something the pack has no rule for."""
    dockerfile = BROKEN / "docker" / "root-latest" / "Dockerfile"
    invented = judges.Finding(file=str(dockerfile), line=1, rule="AVD-DS-9999", severity="high",
                              message="a check the pack has never heard of", tool="trivy")
    mapped_but_silent = judges.Finding(file=str(dockerfile), line=1, rule="AVD-KSV-0017", severity="high",
                                       message="privileged container", tool="trivy")
    problems = disagreements([invented, mapped_but_silent])
    assert len(problems) == 2
    assert "no rule of the pack maps" in problems[0]
    assert "slm-k8s-002" in problems[1]


def test_trivy_ids_map_with_or_without_the_avd_prefix() -> None:
    assert rules_for_benchmark("Trivy", "AVD-KSV-0017") == rules_for_benchmark("Trivy", "KSV-0017") != ()
