"""`make test` runs on two xdist workers; the tests that share an expensive fixture must land on one of them.

xdist's loadgroup mode groups by a suffix it writes into each test's node id; when that stops taking effect (it
does with pytest 9.2) nothing fails, the groups just spread, and every Compose project and pod cluster of the
integration tests starts once per worker. This runs a small suite the way `make test` does and reads where each
test ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

CONFTEST = (
    'import pytest\n\npytest_plugins = ["tests.support.worker_groups"]\n\n\n'
    "@pytest.fixture(scope='session')\ndef compose_project():\n    return 'up'\n\n\n"
    "@pytest.fixture(scope='session')\ndef llamacpp():\n    return 'built'\n"
)
TESTS = "import pytest\n\n\n@pytest.mark.parametrize('case', range(4))\ndef test_case({fixtures}case):\n    pass\n"
MODULE_GROUP = "import pytest\n\npytestmark = pytest.mark.xdist_group('by-module-mark')\n\n\n" + TESTS
SUITE = {
    "integration/test_own_pods.py": TESTS.format(fixtures=""),
    "integration/test_snippets.py": TESTS.format(fixtures="compose_project, "),
    # uses the shared project in one test only: the whole module goes with it
    "integration/test_compose_up.py": TESTS.format(fixtures="")
    + "\n\ndef test_with_the_project(compose_project):\n    pass\n",
    # one test needs no build: the module still runs last, on one worker
    "integration/test_llama.py": TESTS.format(fixtures="llamacpp, ") + "\n\ndef test_without_the_build():\n    pass\n",
    "test_marked.py": MODULE_GROUP.format(fixtures=""),
    "test_free.py": TESTS.format(fixtures=""),
}
TEST_COUNT = 4 * len(SUITE) + 2
RAN = re.compile(r"^\[(gw\d)\] .*?PASSED (\S+?)::\S+?(?:@(\S+))?[ \t]*$", re.M)


def run_suite(folder: Path, *options: str) -> str:
    """The output of the suite above, run with `options`."""
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "integration").mkdir(exist_ok=True)
    for name, text in SUITE.items():
        (folder / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS" and not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, str(folder)],
                            capture_output=True, text=True, cwd=folder, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_each_group_runs_on_one_worker(tmp_path: Path) -> None:
    output = run_suite(tmp_path, "-v", "-n", "2", "--dist", "loadgroup")  # as `make test` runs
    ran = [(worker, Path(path).name, group or None) for worker, path, group in RAN.findall(output)]
    assert len(ran) == TEST_COUNT, output
    workers: dict[str | None, set[str]] = defaultdict(set)
    groups: dict[str, set[str | None]] = defaultdict(set)
    for worker, name, group in ran:
        workers[group].add(worker)
        groups[name].add(group)
    assert groups == {
        "test_own_pods.py": {"integration-test_own_pods"},
        "test_snippets.py": {"onnx-compose-project"},
        "test_compose_up.py": {"onnx-compose-project"},
        "test_llama.py": {"integration-test_llama"},
        "test_marked.py": {"by-module-mark"},
        "test_free.py": {None},
    }, "the worker groups did not reach xdist's scheduler"
    assert all(len(used) == 1 for group, used in workers.items() if group is not None), dict(workers)


def test_the_llamacpp_tests_come_last(tmp_path: Path) -> None:
    collected = [line for line in run_suite(tmp_path, "-q", "--collect-only").splitlines() if "::" in line]
    assert len(collected) == TEST_COUNT
    assert [line.split("::")[0] for line in collected[-5:]] == ["integration/test_llama.py"] * 5, collected
