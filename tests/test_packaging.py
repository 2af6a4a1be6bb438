"""The wheel users install carries every data file the renderers and the CLI read at run time."""

from __future__ import annotations

import zipfile
from pathlib import Path

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
