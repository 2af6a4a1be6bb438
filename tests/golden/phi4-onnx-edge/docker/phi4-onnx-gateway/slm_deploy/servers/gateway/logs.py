"""One JSON object per log line on stdout, so log pipelines can parse the gateway's output."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    """Access-log entries are merged in as fields; other messages go under `msg`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        if record.name == "slm_gateway.access" and message.startswith("{"):
            entry.update(json.loads(message))
        else:
            entry["msg"] = message
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, separators=(",", ":"))


def configure_logging(level: str) -> None:
    """Send every gateway log record to stdout as JSON; aiohttp's own access log stays off."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").disabled = True
