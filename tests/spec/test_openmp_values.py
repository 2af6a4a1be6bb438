"""OpenMP variables llama.cpp's image reads through GNU libgomp are judged by libgomp itself: a program built with
`g++ -fopenmp` (the compiler and runtime llama.cpp's images are built with) reports the values it cannot read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slm_deploy.spec.env_values import value_refusal
from tests.support.tools import find_executable, run

PROGRAM = "int main() {\n#pragma omp parallel\n    {}\n    return 0;\n}\n"
"""Starts libgomp's thread team, which parses the OMP_* variables first."""
WAIT_POLICIES = ["active", "passive", " Active\t", "PASSIVE", "passive2", "act", "1", "true", "", "spin", "passive x"]


@pytest.fixture(scope="module")
def openmp_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = find_executable("g++", "apt-get install g++")
    folder = tmp_path_factory.mktemp("openmp")
    (folder / "team.cpp").write_text(PROGRAM, encoding="utf-8")
    built = run([compiler, "-fopenmp", "team.cpp", "-o", "team"], cwd=folder)
    assert built.returncode == 0, built.stderr
    return folder / "team"


@pytest.mark.parametrize("value", WAIT_POLICIES, ids=repr)
def test_wait_policy_values_are_refused_exactly_when_libgomp_reports_them(openmp_program: Path, value: str) -> None:
    started = run([str(openmp_program)], env={**os.environ, "OMP_WAIT_POLICY": value})
    assert started.returncode == 0, started.stderr
    libgomp_refuses = "Invalid value for environment variable OMP_WAIT_POLICY" in started.stderr
    assert (value_refusal("llamacpp", "OMP_WAIT_POLICY", value) is not None) == libgomp_refuses
