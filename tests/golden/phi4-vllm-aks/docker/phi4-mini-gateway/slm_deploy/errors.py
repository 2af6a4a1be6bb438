"""One exception hierarchy, so the CLI can turn every user-facing failure into exit code 2."""

from __future__ import annotations

from dataclasses import dataclass


class SlmDeployError(Exception):
    """Base of every error a user can cause and fix; never carries a secret's value."""


@dataclass(frozen=True)
class Problem:
    """One bad field: where it is, what is wrong, what is allowed, and how to fix it."""

    path: str
    message: str
    allowed: str = ""
    hint: str = ""

    def render(self) -> str:
        """Format the problem the way the CLI prints it."""
        lines = [f"{self.path or '<spec>'}: {self.message}"]
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


class FitError(SpecError):
    """The model, context and concurrency do not fit the resources the spec gives."""


class BundleError(SlmDeployError):
    """The output directory cannot safely receive or provide a bundle."""


def spec_error(path: str, message: str, allowed: str = "", hint: str = "") -> SpecError:
    """Shorthand for the common single-problem case."""
    return SpecError(Problem(path, message, allowed, hint))
