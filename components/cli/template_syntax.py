"""The one rule for template answers holding Jinja syntax, shared by `slm-deploy new` and plain `cookiecutter`:
cookiecutter renders every key=value answer as a template before any hook runs, so such an answer would run as code,
and a broken one would end in a traceback that prints it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from slm_deploy.errors import Problem

TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
"""Jinja's openers (the template sets no other delimiters)."""


def template_syntax_problems(answers: Mapping[str, object]) -> list[Problem]:
    """One problem per answer holding template syntax, naming the answer and never showing its value."""
    return [Problem(key, "holds template syntax, which cookiecutter would run as code",
                    allowed="plain text without {{, {% or {#")
            for key, value in answers.items() if isinstance(value, str) and TEMPLATE_SYNTAX.search(value)]
