"""Run the server with uvicorn: `python -m slm_deploy.servers.ortgenai [flags]`."""

from __future__ import annotations

import logging
import sys
from typing import Sequence

import uvicorn
from prometheus_client import disable_created_metrics

from .app import create_app
from .config import SettingsError, load_settings
from .engine import opt_out_of_onnxruntime_telemetry
from .http_protocol import OpenAIErrorH11Protocol

EXIT_BAD_SETTINGS = 2
EXIT_MODEL_LOAD_FAILED = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped; exit non-zero when settings are bad or the model cannot load, so supervisors restart."""
    opt_out_of_onnxruntime_telemetry()
    try:
        settings = load_settings(argv)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    load_failure: list[str] = []
    server: uvicorn.Server | None = None

    def stop_after_failed_load(reason: str) -> None:
        load_failure.append(reason)
        if server is not None:
            server.should_exit = True

    disable_created_metrics()  # *_created series only add noise to every scrape
    app = create_app(settings, on_load_failure=stop_after_failed_load)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        http=OpenAIErrorH11Protocol,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    server.run()
    if load_failure:
        print(f"error: the model could not be loaded: {load_failure[0]}", file=sys.stderr)
        return EXIT_MODEL_LOAD_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
