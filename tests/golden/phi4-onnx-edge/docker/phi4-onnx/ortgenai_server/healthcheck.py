"""Container health probe without curl: `python -m slm_deploy.servers.ortgenai.healthcheck` exits 0 when /health is 200."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from .config import DEFAULT_PORT

TIMEOUT_SECONDS = 4.0


def probe(port: int, path: str = "/health") -> bool:
    """True when the server on this host's loopback answers `path` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_SECONDS) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    """Exit code for HEALTHCHECK: 0 healthy, 1 not (yet) healthy."""
    port = int(os.environ.get("SLM_PORT") or DEFAULT_PORT)
    return 0 if probe(port) else 1


if __name__ == "__main__":
    sys.exit(main())
