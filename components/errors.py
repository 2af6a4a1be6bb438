"""One exception hierarchy, so the CLI can turn every user-facing failure into exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


class SlmDeployError(Exception):
    """Base of every error a user can cause and fix; never carries a secret's value."""

    exit_code = 2
    """Bad input; errors the user did not cause (a full disk) say 1."""


@dataclass(frozen=True)
class Problem:
    """One bad field: where it is, what is wrong, what is allowed, and how to fix it."""

    path: str
    message: str
    allowed: str = ""
    hint: str = ""
    location: str = ""
    """file:line the field is on, when the spec came from a file."""

    def render(self) -> str:
        """Format the problem the way the CLI prints it."""
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.path or '<spec>'}: {self.message}"]
        if self.allowed:
            lines.append(f"  allowed: {self.allowed}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class SpecError(SlmDeployError):
    """The spec is malformed, inconsistent or cannot fit; names each field path."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    def located(self, location_of: Callable[[str], str]) -> "SpecError":
        """The same error with every problem's file:line filled in from its path."""
        problems = [p if p.location else replace(p, location=location_of(p.path)) for p in self.problems]
        return type(self)(problems)


class FitError(SpecError):
    """The model, context and concurrency do not fit the resources the spec gives."""


class BundleError(SlmDeployError):
    """The output directory cannot safely receive or provide a bundle."""


class WriteError(BundleError):
    """The operating system refused a write the user could not have foreseen (disk full, I/O error)."""

    exit_code = 1


def value_kind(value: Any) -> str:
    """Describe a value by its type only, so a pasted secret never reaches the terminal."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), "a value")

