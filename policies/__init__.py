"""slm-deploy's policy pack: hardening rules that run as CrossGuard policies and offline over a bundle.

Public API for the CLI and other tools:
    check_bundle(path, waivers=()) -> Report       run every applicable rule over a rendered bundle
    check_files(paths, waivers=()) -> Report       the same over loose files
    to_text / to_json / to_sarif (report) -> str   formatters (SARIF 2.1.0)
    fails(report, "high") -> bool                  --fail-on threshold
    load_waivers(raw) -> tuple[Waiver, ...]        validate waivers (WaiverError without a reason)
    all_rules(), rule_by_id(id), rules_for_benchmark(framework, id), render_catalogue()
The CrossGuard pack itself lives in crossguard.py (build_policies) and __main__.py.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "render_catalogue": "catalogue", "to_json": "formats", "to_sarif": "formats", "to_text": "formats",
    "Severity": "model", "Finding": "offline", "Report": "offline", "WaivedFinding": "offline",
    "check_bundle": "offline", "check_files": "offline", "fails": "offline", "all_rules": "registry",
    "rule_by_id": "registry", "rules_for_benchmark": "registry", "Waiver": "waivers", "WaiverError": "waivers",
    "load_waivers": "waivers",
}
"""Where each public name lives: loaded on first use, so `render` (which reads one helper module) does not
import every rule."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
