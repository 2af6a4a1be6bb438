"""The wheel users install carries every data file the renderers and the CLI read at run time."""

from __future__ import annotations

import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from slm_deploy import __version__
from tests.conftest import ROOT
from tests.support.wheel import build_wheel


def test_wheel_ships_templates_tables_and_server_sources(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected_dirs = {
        "slm_deploy/templates/": ROOT / "templates",
        "slm_deploy/policies/": ROOT / "policies",
        "slm_deploy/": ROOT / "components",
    }
    for prefix, folder in expected_dirs.items():
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(folder).as_posix()
                if prefix == "slm_deploy/" and path.suffix not in (".py", ".typed", ".yaml", ".json", ".txt"):
                    continue
                if prefix == "slm_deploy/policies/" and path.suffix not in (".py", ".yaml", ".md"):
                    continue
                assert prefix + relative in names, f"{prefix}{relative} is missing from the wheel"
    assert "slm_deploy/py.typed" in names, "type checkers read the package's annotations only with its py.typed marker"
    assert "slm_deploy.cli.app:main" in zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()


PROVIDER_REQUIREMENTS = ROOT / "components" / "provider" / "requirements.txt"


def provider_requirement_lines() -> tuple[list[str], list[str]]:
    """(the lines pip installs, the documented alternatives) of the component provider's requirements."""
    lines = PROVIDER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    installed = [line for line in lines if line.strip() and not line.startswith("#")]
    alternatives = [line.strip("# ") for line in lines if line.startswith("#   ") and not line.startswith("#     ")]
    return installed, alternatives


def test_the_component_provider_installs_the_released_package_of_this_minor_series() -> None:
    installed, _ = provider_requirement_lines()
    assert [line for line in installed if line.startswith("-") or ".." in line] == []  # no checkout path
    (requirement,) = [Requirement(line) for line in installed]
    major, minor, _ = __version__.split(".", 2)
    assert requirement.name == "slm-deploy" and requirement.extras == {"aks"}
    assert __version__ in requirement.specifier
    assert f"{major}.{int(minor) + 1}.0" not in requirement.specifier  # a new minor series is a new choice


def test_the_documented_alternatives_name_this_versions_wheel_and_tag(tmp_path: Path) -> None:
    _, alternatives = provider_requirement_lines()
    wheel, git = alternatives
    assert wheel == f"./{build_wheel(tmp_path).name}[aks]"
    requirement = Requirement(git)
    assert requirement.name == "slm-deploy" and requirement.extras == {"aks"}
    assert requirement.url and requirement.url.startswith("git+https://") and requirement.url.endswith(
        f"@v{__version__}")
