"""One JSON object per log line on stdout, so log pipelines can parse the gateway's output."""

from __future__ import annotations

import json
import logging
import sys
import time

# The LogRecord attribute holding an access-log entry's fields, serialised once, by the formatter.
ACCESS_FIELDS = "access_fields"


class JsonFormatter(logging.Formatter):
    """Access-log entries' fields are merged in; other messages go under `msg`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, ACCESS_FIELDS, None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["msg"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, separators=(",", ":"))


def configure_logging(level: str) -> None:
    """Send every gateway log record to stdout as JSON; aiohttp's own access log stays off."""
    # What the formatter never writes is not collected either: the caller's frame, thread and process.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").disabled = True
