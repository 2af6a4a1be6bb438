"""Every rule of the pack, one module each; discovered in module-name order so ids stay stable."""

from __future__ import annotations

import importlib
import pkgutil

from slm_deploy.policies.model import Rule


def load_rules() -> tuple[Rule, ...]:
    """Import every rule module and return their RULE objects sorted by id."""
    found: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(module.RULE)
    return tuple(sorted(found, key=lambda r: r.id))
