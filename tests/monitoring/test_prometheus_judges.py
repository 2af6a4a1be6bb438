"""Every rendered bundle with monitoring is accepted by promtool and amtool, and its rule tests pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitoring.bundles import every_bundle, write
from tests.support import judges

BUNDLES = every_bundle()
IDS = [name for name, _ in BUNDLES]


def _monitoring(files: dict[str, str], tmp_path: Path) -> Path:
    return write(files, tmp_path, "monitoring/") / "monitoring"


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_promtool_and_amtool_accept_the_configuration(name: str, files: dict[str, str], tmp_path: Path) -> None:
    root = _monitoring(files, tmp_path)
    rules = sorted((root / "prometheus" / "rules").glob("*.rules.yml"))
    assert rules, "every monitored bundle carries its rule file"
    assert judges.promtool_check_rules(rules) == []
    if "compose/compose.yaml" in files:
        assert judges.promtool_check_config(root / "prometheus" / "prometheus.yml") == []
        assert judges.amtool_check_config(root / "alertmanager" / "alertmanager.yml") == []


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_the_rendered_rule_tests_pass(name: str, files: dict[str, str], tmp_path: Path) -> None:
    root = _monitoring(files, tmp_path)
    tests = sorted((root / "prometheus" / "tests").glob("*.test.yml"))
    assert tests
    findings = judges.promtool_test_rules(tests)
    assert findings == [], judges.describe(findings)
