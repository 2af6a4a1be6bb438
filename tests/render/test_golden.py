"""Golden bundles: every example stack renders exactly the reviewed files, twice byte-identically."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import ROOT, STACKS, stack_id

GOLDEN = ROOT / "tests" / "golden"
VENDORED = re.compile(r"^(?:docker/[^/]+|hosts/[^/]+/gateway)/"
                      r"(?:(?P<module>slm_deploy/servers/gateway|slm_deploy/smoke|ortgenai_server)"
                      r"/(?P<file>[^/]+\.py)"
                      r"|slm_deploy/(?P<shared>errors\.py))$")
"""Server sources copied into build contexts and host installs: checked against the package, not kept twice in
golden files."""
PACKAGE_OF = {"slm_deploy/servers/gateway": "slm_deploy.servers.gateway", "slm_deploy/smoke": "slm_deploy.smoke",
              "ortgenai_server": "slm_deploy.servers.ortgenai"}


def _split_vendored(files: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    own = {k: v for k, v in files.items() if not VENDORED.match(k)}
    return own, {k: v for k, v in files.items() if VENDORED.match(k)}


def _golden_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_bundle_matches_golden(stack: Path, update_golden: bool) -> None:
    files, vendored = _split_vendored(render_bundle(load_deployment(stack)).files)
    for path, text in vendored.items():
        match = VENDORED.match(path)
        package, name = (PACKAGE_OF[match["module"]], match["file"]) if match["module"] else ("slm_deploy", match["shared"])
        source = resources.files(package).joinpath(name).read_text(encoding="utf-8")
        assert text == source, f"{path} is not a verbatim copy of the package source"
    golden = GOLDEN / stack_id(stack)
    if update_golden:
        for old in golden.rglob("*"):
            if old.is_file():
                old.unlink()
        for relative, text in files.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_text(text, encoding="utf-8")
    expected = _golden_files(golden)
    assert sorted(files) == sorted(expected), "file list changed; run pytest --update-golden and review"
    for relative, text in files.items():
        assert text == expected[relative], f"{relative} differs from tests/golden; run --update-golden and review"


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_render_is_deterministic(stack: Path) -> None:
    first = render_bundle(load_deployment(stack)).files
    second = render_bundle(load_deployment(stack)).files
    assert first == second
