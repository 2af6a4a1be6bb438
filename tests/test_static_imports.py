"""A user's program written against the installed package type-checks with pyright: every `slm_deploy` import
resolves from the virtualenv (no import hook), and the components' annotations are read (py.typed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from slm_deploy.public import public_components
from tests.support.tools import unavailable
from tests.test_readme_program import readme_program

PYRIGHT = Path(sys.executable).with_name("pyright")


def pyright(folder: Path) -> list[dict]:
    """Pyright's diagnostics for every file in the folder, against this interpreter's site-packages."""
    if shutil.which("node") is None:
        raise unavailable("node", "pyright runs on Node.js (apt-get install nodejs)")
    done = subprocess.run([str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, str(folder)],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    assert report["summary"]["filesAnalyzed"] == len(list(folder.glob("*.py"))), done.stderr
    return report["generalDiagnostics"]


def test_pyright_resolves_every_import_of_a_users_program(tmp_path: Path) -> None:
    (tmp_path / "readme_program.py").write_text(readme_program(), encoding="utf-8")
    imports = "".join(f"from {c.__module__} import {c.__name__}\n" for c in public_components())
    names = ", ".join(c.__name__ for c in public_components())
    (tmp_path / "every_component.py").write_text(f"{imports}\nCOMPONENTS = [{names}]\n", encoding="utf-8")
    (tmp_path / "misspelt.py").write_text("from slm_deploy.stak import SlmDeployment\n", encoding="utf-8")

    diagnostics = pyright(tmp_path)

    by_file = {(Path(d["file"]).name, d.get("rule")) for d in diagnostics if d["severity"] == "error"}
    # The misspelt module shows that pyright reports an import it cannot resolve; nothing else is an error.
    assert by_file == {("misspelt.py", "reportMissingImports")}, diagnostics
