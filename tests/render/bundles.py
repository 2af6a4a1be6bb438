"""Render each example stack once per test session into a real folder, as `slm-deploy render` writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import STACKS, stack_id


def rendered(stack: Path, factory: pytest.TempPathFactory) -> Path:
    """Write the bundle of one stack to a fresh temporary folder and return it."""
    out = factory.mktemp(stack_id(stack)) / "bundle"
    write_bundle(render_bundle(load_deployment(stack)), out)
    return out


def stacks_with(relative_glob: str) -> list[Path]:
    """Example stacks whose bundle contains files matching the glob (checked by rendering in memory)."""
    import fnmatch

    chosen = []
    for stack in STACKS:
        files = render_bundle(load_deployment(stack)).files
        if any(fnmatch.fnmatch(path, relative_glob) for path in files):
            chosen.append(stack)
    return chosen
