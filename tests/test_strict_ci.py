"""Where CI requires every judge and engine, nothing can skip: not a test, a fixture, or a whole module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLUGIN = 'pytest_plugins = ["tests.support.strict_ci"]\n'
IN_TESTS = ("import pytest\n\n\ndef test_skips_inside():\n    pytest.skip('no judge here')\n\n\n"
            "@pytest.fixture\ndef judge():\n    pytest.skip('no engine here')\n\n\n"
            "def test_skips_in_a_fixture(judge):\n    pass\n")
AT_IMPORT = "import pytest\n\npytest.importorskip('a_module_that_is_not_installed')\n\n\ndef test_never_runs():\n    pass\n"


def _run(tmp_path: Path, test_file: str, required: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(PLUGIN)
    (tmp_path / "test_skipping.py").write_text(test_file)
    env = {k: v for k, v in os.environ.items() if k not in ("SLM_DEPLOY_REQUIRE_TOOLS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(ROOT)
    if required is not None:
        env["SLM_DEPLOY_REQUIRE_TOOLS"] = required
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_a_skipped_test_or_fixture_fails_where_everything_is_required(tmp_path: Path) -> None:
    result = _run(tmp_path, IN_TESTS, "all")
    assert result.returncode == 1 and "1 failed, 1 error" in result.stdout, result.stdout
    assert re.search(r"requires every judge and engine: (Skipped: )?no judge here", result.stdout)
    assert re.search(r"requires every judge and engine: (Skipped: )?no engine here", result.stdout)


def test_a_module_that_skips_at_import_fails_collection_where_everything_is_required(tmp_path: Path) -> None:
    result = _run(tmp_path, AT_IMPORT, "all")
    assert result.returncode == 2 and "1 error" in result.stdout, result.stdout
    assert "requires every judge and engine: Skipped: could not import" in result.stdout


@pytest.mark.parametrize(("test_file", "summary", "code"), [(IN_TESTS, "2 skipped", 0), (AT_IMPORT, "1 skipped", 5)],
                         ids=["in tests", "at import"])
@pytest.mark.parametrize("required", [None, "hadolint"])
def test_skips_stay_skips_on_a_workstation(tmp_path: Path, test_file: str, summary: str, code: int,
                                           required: str | None) -> None:
    result = _run(tmp_path, test_file, required)
    assert result.returncode == code and f"\n{summary} in " in result.stdout, result.stdout  # 5: nothing ran
