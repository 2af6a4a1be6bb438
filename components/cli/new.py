"""`slm-deploy new`: scaffold a deployment project from the cookiecutter template, validated before it lands."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from slm_deploy.errors import Problem, SlmDeployError, SpecError
from slm_deploy.spec.loader import load_deployment

TEMPLATE = "project"


class TemplateRefused(SlmDeployError):
    """The template's hooks refused the answers; they printed each reason before this."""


def _template_dir() -> Path:
    return Path(str(resources.files("slm_deploy.templates").joinpath(TEMPLATE)))


def parse_context(pairs: list[str]) -> dict[str, str]:
    """key=value arguments, checked against the template's variables and choices."""
    defaults = json.loads((_template_dir() / "cookiecutter.json").read_text(encoding="utf-8"))
    public = sorted(k for k in defaults if not k.startswith("_"))
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in public:
            raise SpecError(Problem(key if sep else pair, "is not a template variable (expected key=value)",
                                    allowed=", ".join(public)))
        choices = defaults[key]
        if isinstance(choices, list) and value not in choices:
            raise SpecError(Problem(key, "is not offered", allowed=", ".join(choices)))
        context[key] = value
    return context


def new(
    context: Annotated[list[str] | None, typer.Argument(help="Template answers as key=value.")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", file_okay=False,
                                             help="Where the project folder is created.")] = Path("."),
    no_input: Annotated[bool, typer.Option("--no-input", help="Use defaults and key=value answers only.")] = False,
) -> None:
    """Scaffold a project (a stack per environment, tests, CI, editor schema, README) and validate it before writing."""
    from cookiecutter.exceptions import FailedHookException  # loaded here so the other commands start without it
    from cookiecutter.main import cookiecutter

    answers = parse_context(context or [])
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)  # the hooks print the reasons; no tracebacks
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".slm-deploy-new.") as staging:
        try:
            project = Path(cookiecutter(str(_template_dir()), no_input=no_input, extra_context=answers,
                                        output_dir=staging, default_config=True))
        except FailedHookException:
            raise TemplateRefused("the template refused these answers (reasons above); nothing was written") from None
        for stack in sorted(project.glob("Pulumi.*.yaml")):
            try:
                load_deployment(stack)
            except SpecError as exc:
                raise SpecError([Problem(f"template answers -> {p.path}", p.message, p.allowed,
                                         p.hint or "deployment_name defaults to project_name in lower case; "
                                         "set deployment_name=... explicitly") for p in exc.problems]) from None
        target = output_dir / project.name
        if target.exists():
            raise SpecError(Problem("deployment_name", f"{target} already exists",
                                    hint="choose another deployment_name or --output-dir"))
        shutil.move(str(project), target)
    typer.echo(f"created {target}")
