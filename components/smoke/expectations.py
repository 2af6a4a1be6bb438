"""What a deployment should answer, derived from its spec; JSON so the rendered smoke image carries it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from slm_deploy.errors import SlmDeployError

NO_SPEC = "no --spec, so the runtime is unknown"


class ExpectationsError(SlmDeployError):
    """An expectations file that cannot be read; names the file and the field, never a value."""


@dataclass(frozen=True)
class SmokeExpectations:
    """Facts smoke checks compare the endpoint against; None means unknown (no spec given)."""

    runtime: str | None = None
    model: str | None = None
    auth: bool | None = None
    """True when the endpoint must refuse requests without a valid key."""
    health_path: str | None = None
    """Liveness of whatever listens on the endpoint (the gateway's own, or the runtime's)."""
    ready_path: str | None = None
    """The runtime's readiness, reached through the endpoint."""
    tool_calls: bool | None = None
    tool_calls_note: str = NO_SPEC
    ollama_native: bool = False
    metrics_public: bool | None = None
    """Whether GET /metrics on the endpoint itself should answer Prometheus text."""

    def to_json(self) -> str:
        """Stable JSON (sorted keys), so a rendered bundle stays byte-identical."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def read_expectations(path: Path) -> SmokeExpectations:
    """Load an expectations file written by `slm-deploy render`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExpectationsError(f"{path}: cannot read smoke expectations ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ExpectationsError(f"{path}: smoke expectations must be a JSON object")
    known = {f.name for f in fields(SmokeExpectations)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ExpectationsError(f"{path}: unknown field {unknown[0]!r}\n  allowed: {', '.join(sorted(known))}")
    values: dict[str, Any] = dict(data)
    return SmokeExpectations(**values)
