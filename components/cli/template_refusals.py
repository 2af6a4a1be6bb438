"""Plain `cookiecutter` refuses the project template's answers as `slm-deploy new` does: the reasons, exit code 2,
no traceback. These extensions (cookiecutter.json's _extensions) run in cookiecutter's own process: one refuses
answers the template does not define or holding template syntax before cookiecutter renders them; the other ends a
hook's refusal, which cookiecutter would report by logging the exception with its traceback and exiting 1, once
cookiecutter has removed the project folder it made for the refused answers."""

from __future__ import annotations

import json
import logging
import sys
from functools import cache
from importlib import resources

import click
from cookiecutter.config import get_user_config
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from slm_deploy.cli.template_syntax import TEMPLATE, template_syntax_problems, unknown_variable
from slm_deploy.errors import Problem, SpecError

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


def _template_context() -> dict[str, object]:
    """The cookiecutter.json of the project template these extensions belong to: each key with its default or its
    choice's options."""
    text = resources.files("slm_deploy.templates").joinpath(TEMPLATE, "cookiecutter.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _answers_on_the_command_line() -> tuple[dict[str, object], dict[str, object]]:
    """The answers of the running cookiecutter command (see _answers_of)."""
    return _answers_of(click.get_current_context())


@cache
def _answers_of(command: click.Context) -> tuple[dict[str, object], dict[str, object]]:
    """The config file's default_context and the key=value answers of this cookiecutter command, found as that
    command finds them: from its documented options (--config-file, --default-config, EXTRA_CONTEXT, with
    COOKIECUTTER_CONFIG) through cookiecutter's public get_user_config. A renamed option fails loudly here.
    Read once, where cookiecutter read them: it loads the extensions again to run each hook, from the template's
    folder, where a relative config file path names nothing."""
    options = command.params
    config = get_user_config(config_file=options["config_file"], default_config=options["default_config"])
    return config["default_context"], options["extra_context"] or {}


class RefuseTemplateSyntax(Extension):
    """Refuses answers the template does not define, answers holding template syntax from any source cookiecutter
    renders (key=value, a config file's default_context), and choices it does not offer (cookiecutter would warn and
    use the default), when cookiecutter loads the template's extensions, which
    it does to render the answers and before it writes anything."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not _on_cookiecutter_command_line():
            return  # `slm-deploy new` refused such answers before calling cookiecutter, and reads no config file
        template = _template_context()
        variables = {key: value for key, value in template.items() if not key.startswith("_")}
        configured, typed = _answers_on_the_command_line()
        unknown = [unknown_variable(position, variables)
                   for position, key in enumerate(typed, start=1) if key not in variables]
        unknown += [Problem(f"default_context.{key}", "is a private key of the template, which derives it; cookiecutter "
                            "would render a config file's value for it as code", allowed="only the template's "
                            "variables: " + ", ".join(variables))
                    for key in template if key.startswith("_") and key in configured]
        answers = {**{key: configured[key] for key in variables if key in configured}, **typed}
        unoffered = [Problem(key, "is not offered", allowed=", ".join(options)) for key, options in variables.items()
                     if isinstance(options, list) and key in answers and answers[key] not in options]
        problems = unknown or template_syntax_problems(answers) or unoffered
        if problems:
            print(f"error: {SpecError(problems)}", file=sys.stderr)
            raise SystemExit(REFUSED)
