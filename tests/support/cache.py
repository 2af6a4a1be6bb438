"""Where expensive test artefacts (rootfs tarballs, registry data, scanner caches) persist between runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def cache_root() -> Path:
    """Keep artefacts out of the working tree so a second run on the same machine is quick."""
    configured = os.environ.get("SLM_DEPLOY_CACHE_DIR")
    if configured:
        root = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "slm-deploy"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Serialise one expensive step across pytest-xdist workers and concurrent runs."""
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
