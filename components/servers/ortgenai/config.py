"""Server settings from command-line flags, falling back to SLM_* environment variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

EXECUTION_PROVIDERS = ("cpu", "cuda")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEFAULT_PORT = 8001
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""Room for a 128k-token prompt (about 500 KB of text) with JSON escaping to spare."""


class SettingsError(ValueError):
    """A setting has a value the server cannot run with; the message names the flag and variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start; no secrets (authentication happens in front of it)."""

    model_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    served_model_name: str = ""
    max_concurrency: int = 2
    max_queue: int = 32
    default_max_tokens: int = 256
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_seconds: int = 30
    execution_provider: str = "cpu"
    log_level: str = "info"
    chat_template_file: Path | None = None

    @property
    def model_name(self) -> str:
        """The name clients must send in `model`: the configured one, else the model folder's name."""
        return self.served_model_name or self.model_dir.resolve().name


@dataclass(frozen=True)
class _Option:
    flag: str
    env: str
    field: str
    kind: type
    help: str
    choices: tuple[str, ...] | None = None


OPTIONS = (
    _Option("--model-dir", "SLM_MODEL_DIR", "model_dir", Path, "folder holding genai_config.json and the ONNX model"),
    _Option("--host", "SLM_HOST", "host", str, "address to bind (default 127.0.0.1; containers use 0.0.0.0)"),
    _Option("--port", "SLM_PORT", "port", int, f"TCP port (default {DEFAULT_PORT})"),
    _Option("--served-model-name", "SLM_SERVED_MODEL_NAME", "served_model_name", str,
            "model name clients send (default: the model folder's name)"),
    _Option("--max-concurrency", "SLM_MAX_CONCURRENCY", "max_concurrency", int,
            "generations running at once (default 2)"),
    _Option("--max-queue", "SLM_MAX_QUEUE", "max_queue", int,
            "requests allowed to wait for a slot before 503 (default 32)"),
    _Option("--max-tokens", "SLM_MAX_TOKENS", "default_max_tokens", int,
            "max_tokens when a request gives none (default 256)"),
    _Option("--max-body-bytes", "SLM_MAX_BODY_BYTES", "max_body_bytes", int,
            f"largest request body accepted, larger ones get 413 (default {DEFAULT_MAX_BODY_BYTES})"),
    _Option("--body-timeout", "SLM_BODY_TIMEOUT", "body_timeout_seconds", int,
            "seconds a request body may take to arrive, else 408 (default 30)"),
    _Option("--execution-provider", "SLM_EXECUTION_PROVIDER", "execution_provider", str,
            "cpu or cuda (default cpu)", EXECUTION_PROVIDERS),
    _Option("--log-level", "SLM_LOG_LEVEL", "log_level", str, "log level (default info)", LOG_LEVELS),
    _Option("--chat-template-file", "SLM_CHAT_TEMPLATE_FILE", "chat_template_file", Path,
            "Jinja chat template overriding the model's own"),
)


def build_parser() -> argparse.ArgumentParser:
    """One flag per setting; each help text names its environment variable."""
    parser = argparse.ArgumentParser(
        prog="ortgenai-server",
        description="OpenAI-compatible chat completions server for ONNX Runtime GenAI models.",
    )
    for option in OPTIONS:
        parser.add_argument(option.flag, dest=option.field, default=None, help=f"{option.help} [{option.env}]")
    return parser


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags over environment variables over defaults, and check every value once."""
    environ = os.environ if environ is None else environ
    flags = vars(build_parser().parse_args(list(argv) if argv is not None else None))
    values: dict[str, object] = {}
    for option in OPTIONS:
        raw = flags.get(option.field)
        source = option.flag
        if raw is None and environ.get(option.env, "") != "":
            raw, source = environ[option.env], option.env
        if raw is None:
            continue
        values[option.field] = _convert(option, raw.strip(), source)
    if "model_dir" not in values:
        raise SettingsError("the model folder is not set: pass --model-dir or set SLM_MODEL_DIR")
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_ranges(settings)
    return settings


def _convert(option: _Option, raw: str, source: str) -> object:
    """Turn one raw string into the setting's type, naming where a bad value came from."""
    if option.choices is not None:
        value = raw.lower()
        if value not in option.choices:
            raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(option.choices)}")
        return value
    if option.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{source}: expected a whole number, got {raw!r}") from None
    if option.kind is Path:
        if not raw:
            raise SettingsError(f"{source}: expected a path, got an empty value")
        return Path(raw)
    return raw


def _check_ranges(settings: Settings) -> None:
    """Reject numbers that would make the server unusable rather than fail on the first request."""
    if not 1 <= settings.port <= 65535:
        raise SettingsError(f"--port/SLM_PORT: {settings.port} is outside 1-65535")
    if settings.max_concurrency < 1:
        raise SettingsError("--max-concurrency/SLM_MAX_CONCURRENCY: must be at least 1")
    if settings.max_queue < 0:
        raise SettingsError("--max-queue/SLM_MAX_QUEUE: must be 0 or more")
    if settings.default_max_tokens < 1:
        raise SettingsError("--max-tokens/SLM_MAX_TOKENS: must be at least 1")
    if settings.max_body_bytes < 1024:
        raise SettingsError("--max-body-bytes/SLM_MAX_BODY_BYTES: must be at least 1024")
    if settings.body_timeout_seconds < 1:
        raise SettingsError("--body-timeout/SLM_BODY_TIMEOUT: must be at least 1")
