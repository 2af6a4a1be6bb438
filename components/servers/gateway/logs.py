"""One JSON object per log line on stdout, so log pipelines can parse the gateway's output."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
import time
from json.encoder import encode_basestring_ascii
from typing import Callable, TextIO

ACCESS_LOGGER = "slm_gateway.access"
_second = -1
_second_text = ""


def timestamp(created: float) -> str:
    """UTC to the millisecond, the date and time part formatted once a second."""
    global _second, _second_text
    whole = int(created)
    if whole != _second:
        _second, _second_text = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second_text}.{int((created - whole) * 1000):03d}Z"


class LogWriteErrors:
    """Log lines the stream refused (a collector gone, a full pipe): counted, never raised into a request."""

    def __init__(self) -> None:
        self.on_error: Callable[[], None] | None = None  # the metric's increment, once the gateway is built

    def failed(self) -> None:
        """One write or flush to the log stream failed; the line is lost."""
        if self.on_error is not None:
            self.on_error()


LOG_WRITE_ERRORS = LogWriteErrors()


class JsonFormatter(logging.Formatter):
    """The time, level and logger of every record, its message under `msg`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": timestamp(record.created), "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, separators=(",", ":"))


# The members every access-log line starts with after its time, and the C string quoting json.dumps uses.
_ACCESS_LINE_START = f'"level":"info","logger":{json.dumps(ACCESS_LOGGER)}'
_quote = encode_basestring_ascii


def _json_value(value: object) -> str:
    """A log field as json.dumps writes it, without building an encoder: strings and numbers formatted directly."""
    if isinstance(value, str):
        return _quote(value)
    if type(value) is int or type(value) is float and math.isfinite(value):
        return repr(value)
    return json.dumps(value)


class AccessLog:
    """Access-log lines in the formatter's shape, written to the log stream without a LogRecord or a handler.

    Lines written while the event loop runs one pass are flushed together at the end of that pass.
    """

    def __init__(self) -> None:
        self.stream: TextIO | None = None  # None: INFO is not logged, or logging was never configured
        self._flush_pending = False

    def write(self, fields: dict[str, object]) -> None:
        """Write one request's line."""
        stream = self.stream
        if stream is None:
            return
        members = "".join(f",{_quote(name)}:{_json_value(value)}" for name, value in fields.items())
        try:
            stream.write(f'{{"ts":"{timestamp(time.time())}",{_ACCESS_LINE_START}{members}}}\n')
        except (OSError, ValueError):  # a broken or full pipe, or a stream closed under the gateway
            LOG_WRITE_ERRORS.failed()
            return
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self.stream is not None:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                LOG_WRITE_ERRORS.failed()


ACCESS_LOG = AccessLog()


class CountingStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler whose failed writes are counted instead of printing a traceback to stderr."""

    def handleError(self, record: logging.LogRecord) -> None:
        LOG_WRITE_ERRORS.failed()


def configure_logging(level: str) -> None:
    """Send every gateway log record to stdout as JSON."""
    # What the formatter never writes is not collected either: the caller's frame, thread and process.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = CountingStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    ACCESS_LOG.stream = sys.stdout if logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO) else None
