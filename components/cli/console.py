"""Rich consoles, made when something is printed: importing rich costs more than most commands' own work."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    """The terminal's width on a terminal, 160 columns when piped (so tables in logs stay readable)."""
    from rich.console import Console

    out = Console()
    return out if out.is_terminal else Console(width=160)


def print_error(message: str) -> None:
    """`error: message` on stderr, the prefix in bold red where colour shows; no markup, so [a-z] stays as it is."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), message), highlight=False)
