"""`python -m slm_deploy.servers.gateway --config FILE`: run the gateway (or `--check` it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Callable

from slm_deploy.errors import SlmDeployError
from slm_deploy.servers.gateway.app import build_gateway, serve
from slm_deploy.servers.gateway.config import load_config
from slm_deploy.servers.gateway.logs import configure_logging

DEFAULT_CONFIG = "/etc/slm-gateway/gateway.toml"


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it halves the gateway's CPU per streamed chunk), else asyncio's loop."""
    if os.environ.get("SLM_GATEWAY_EVENT_LOOP", "auto") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, validate config and keys, then serve until signalled."""
    parser = argparse.ArgumentParser(prog="slm-gateway", description=__doc__)
    parser.add_argument("--config", default=os.environ.get("SLM_GATEWAY_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("--check", action="store_true", help="validate the config and key file, then exit")
    parser.add_argument("--log-level", default=os.environ.get("SLM_GATEWAY_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        config = load_config(args.config)
        if args.check:
            gateway = build_gateway(config)
            print(f"ok: {len(gateway.keys.keys.entries)} keys, upstream {config.upstream_url}")
            return 0
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(config))
    except SlmDeployError as exc:
        print(f"slm-gateway: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"slm-gateway: cannot start: {exc.strerror} ({exc.filename or 'socket'})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
