"""Plain `cookiecutter` refuses the project template's answers as `slm-deploy new` does: the reasons, exit code 2,
no traceback. These extensions (cookiecutter.json's _extensions) run in cookiecutter's own process: one refuses
answers the template does not define or holding template syntax before cookiecutter renders them; the other ends a
hook's refusal, which cookiecutter would report by logging the exception with its traceback and exiting 1, once
cookiecutter has removed the project folder it made for the refused answers."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from cookiecutter import main as cookiecutter_main
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from slm_deploy.cli.template_syntax import template_syntax_problems, unknown_variable
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


def _answers_cookiecutter_read() -> tuple[list[str], dict[str, object], dict[str, object]]:
    """The template's variables, its config file's default_context and the key=value answers, as the running
    cookiecutter() call holds them once it has read them and before it renders any."""
    frame = sys._getframe()
    while frame.f_code is not cookiecutter_main.cookiecutter.__code__:
        frame = frame.f_back  # type: ignore[assignment]  # on cookiecutter's command line, the call is below
    template = Path(frame.f_locals["repo_dir"]) / "cookiecutter.json"
    variables = [key for key in json.loads(template.read_text(encoding="utf-8")) if not key.startswith("_")]
    return variables, frame.f_locals["config_dict"]["default_context"], frame.f_locals["extra_context"] or {}


class RefuseTemplateSyntax(Extension):
    """Refuses answers the template does not define, and answers holding template syntax from any source cookiecutter
    renders (key=value, a config file's default_context), when cookiecutter loads the template's extensions, which
    it does to render the answers and before it writes anything."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not _on_cookiecutter_command_line():
            return  # `slm-deploy new` refused such answers before calling cookiecutter, and reads no config file
        variables, configured, typed = _answers_cookiecutter_read()
        unknown = [unknown_variable(position, variables)
                   for position, key in enumerate(typed, start=1) if key not in variables]
        answers = {**{key: configured[key] for key in variables if key in configured}, **typed}
        problems = unknown or template_syntax_problems({key: answers[key] for key in variables if key in answers})
        if problems:
            print(f"error: {SpecError(problems)}", file=sys.stderr)
            raise SystemExit(REFUSED)
