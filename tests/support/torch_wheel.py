"""The CPU torch wheel the test environment installed, handed to the preparation image builds on loopback.

The rendered preparation images install torch from their TORCH_INDEX (download.pytorch.org), which cannot be
reached here; their TORCH_FIND_LINKS build argument takes a wheel page instead. The wheel is the one this
environment's pip configuration resolves for the torch version the test extras installed (a CPU build for the
same Python as the suite's bookworm base), fetched once into the cache. It is served on a fixed loopback port so
the argument, and with it Docker's cached torch layer, is the same on every run; pip trusts plain HTTP from
loopback only, so builds that use it run on the host network.
"""

from __future__ import annotations

import functools
import http.server
import importlib.metadata
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .cache import cache_root, exclusive
from .serving import serving
from .tools import run, tail

DEFAULT_PORT = 18765
DOWNLOAD_TIMEOUT = 900


def wheel_port() -> int:
    """The loopback port of the wheel page (SLM_DEPLOY_TORCH_WHEEL_PORT where the default is taken)."""
    return int(os.environ.get("SLM_DEPLOY_TORCH_WHEEL_PORT", DEFAULT_PORT))


def torch_wheel_folder() -> Path:
    """A folder holding the wheel of the torch version installed here, downloaded once per machine."""
    version = importlib.metadata.version("torch")
    folder = cache_root() / "torch-wheels" / version
    if any(folder.glob("torch-*.whl")):
        return folder
    with exclusive(f"torch-wheel-{version}"):
        if not any(folder.glob("torch-*.whl")):
            folder.mkdir(parents=True, exist_ok=True)
            result = run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                          "--dest", str(folder), f"torch=={version}"], timeout=DOWNLOAD_TIMEOUT)
            if result.returncode != 0:
                raise RuntimeError(f"pip download of torch {version} failed:\n{tail(result.stdout + result.stderr)}")
    return folder


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Quiet: a failed build shows pip's own error."""


@contextmanager
def served_torch_wheel() -> Iterator[str]:
    """Serve the wheel folder as a find-links page while the caller builds; one such build at a time per machine
    (the port is fixed)."""
    handler = functools.partial(_QuietFiles, directory=str(torch_wheel_folder()))
    with exclusive("torch-wheel-page"):
        with serving(http.server.ThreadingHTTPServer(("127.0.0.1", wheel_port()), handler)) as url:
            yield f"{url}/"
