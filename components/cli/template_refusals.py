"""Plain `cookiecutter` refuses the project template's answers as `slm-deploy new` does: the reasons, exit code 2,
no traceback. These extensions (cookiecutter.json's _extensions) run in cookiecutter's own process: one refuses
key=value answers holding template syntax before cookiecutter renders them; the other ends a hook's refusal, which
cookiecutter would report by logging the exception with its traceback and exiting 1, once cookiecutter has removed
the project folder it made for the refused answers."""

from __future__ import annotations

import logging
import sys

import click
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from slm_deploy.cli.template_syntax import template_syntax_problems
from slm_deploy.errors import SpecError

REFUSED = 2
"""The exit status the template's hooks give a refusal; a hook that crashes keeps cookiecutter's full report."""
REFUSAL_REPORT = f"Hook script failed (exit status: {REFUSED})"
"""How cookiecutter's FailedHookException words a hook that exited with REFUSED."""


def _on_cookiecutter_command_line() -> bool:
    """Whether the running command is cookiecutter's own: called as a library (`slm-deploy new`, tests), cookiecutter
    raises FailedHookException to its caller as documented."""
    cli = sys.modules.get("cookiecutter.cli")
    context = click.get_current_context(silent=True)
    return cli is not None and context is not None and context.command is getattr(cli, "main", None)


class _EndRefusal(logging.Filter):
    """Ends the process at cookiecutter's report of a refusal, which it logs once the project folder is removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if isinstance(failure, FailedHookException) and str(failure) == REFUSAL_REPORT \
                and _on_cookiecutter_command_line():
            raise SystemExit(REFUSED)
        return True


class EndRefusals(Extension):
    """Installs the filter on cookiecutter's hooks logger (once, however many environments cookiecutter creates)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        hooks = logging.getLogger("cookiecutter.hooks")
        if not any(isinstance(existing, _EndRefusal) for existing in hooks.filters):
            hooks.addFilter(_EndRefusal())


class RefuseTemplateSyntax(Extension):
    """Refuses command-line answers holding template syntax when cookiecutter loads the template's extensions, which
    it does to render the answers and before it writes anything."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not _on_cookiecutter_command_line():
            return  # `slm-deploy new` refused such answers before calling cookiecutter
        answers = click.get_current_context().params.get("extra_context") or {}
        problems = template_syntax_problems(answers)
        if problems:
            print(f"error: {SpecError(problems)}", file=sys.stderr)
            raise SystemExit(REFUSED)
