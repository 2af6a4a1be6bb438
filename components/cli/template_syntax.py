"""The rules for template answers shared by `slm-deploy new` and plain `cookiecutter`: only the template's own
variables, and no Jinja syntax, since cookiecutter renders every answer it reads (key=value, or a config file's
default_context) as a template before any hook runs, so such an answer would run as code, and a broken one would end
in a traceback that prints it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from slm_deploy.errors import Problem

TEMPLATE = "project"
"""The project template's folder in the slm_deploy.templates package."""
TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
"""Jinja's openers (the template sets no other delimiters)."""


def template_syntax_problems(answers: Mapping[str, object]) -> list[Problem]:
    """One problem per answer holding template syntax, naming the answer and never showing its value."""
    return [Problem(key, "holds template syntax, which cookiecutter would run as code",
                    allowed="plain text without {{, {% or {#")
            for key, value in answers.items() if _holds_template_syntax(value)]


def _holds_template_syntax(value: object) -> bool:
    """Whether text, or any key or item inside a list or mapping, holds template syntax: cookiecutter renders the
    text inside a config file's lists and mappings too."""
    if isinstance(value, str):
        return TEMPLATE_SYNTAX.search(value) is not None
    if isinstance(value, Mapping):
        return any(_holds_template_syntax(key) or _holds_template_syntax(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_template_syntax(item) for item in value)
    return False


def unknown_variable(position: int, variables: Iterable[str]) -> Problem:
    """A key=value argument naming no variable of the template, named by its position (the key is input too)."""
    return Problem(f"<argument {position}>", "is not a template variable (expected key=value)",
                   allowed=", ".join(sorted(variables)))
