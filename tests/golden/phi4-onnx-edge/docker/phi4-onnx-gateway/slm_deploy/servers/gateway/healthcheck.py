"""`python -m slm_deploy.servers.gateway.healthcheck`: a container health probe that needs no curl."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    """Exit 0 when the gateway answers its health path with 200."""
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SLM_GATEWAY_HEALTH_URL", "http://127.0.0.1:8080/healthz")
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
