"""The project's wheel, built the way users get it: one build at a time, since setuptools stages in the source tree."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.support.cache import exclusive

BUILD_TIMEOUT = 900


def wheel_build_lock() -> str:
    """The machine-wide lock every build of this checkout holds (setuptools stages in build/ and egg-info)."""
    return "wheel-" + hashlib.sha256(str(ROOT.resolve()).encode()).hexdigest()[:12]


def build_wheel(destination: Path) -> Path:
    """Build the wheel of this checkout into destination; concurrent builds would race on build/ and egg-info."""
    with exclusive(wheel_build_lock()):
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
             str(destination), str(ROOT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"pip wheel failed: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    (wheel,) = destination.glob("slm_deploy-*.whl")
    return wheel
