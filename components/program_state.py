"""Tables one Pulumi program shares between its components; a new program (a new test under mocks) starts empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi


@dataclass
class _Program:
    monitor: Any = None
    tables: dict[str, list[Any]] = field(default_factory=dict)


_program = _Program()


def program_table(name: str) -> list[Any]:
    """The running program's table `name`, created empty on first use."""
    monitor = pulumi.runtime.settings.get_monitor()
    if _program.monitor is not monitor:
        _program.monitor, _program.tables = monitor, {}
    return _program.tables.setdefault(name, [])
