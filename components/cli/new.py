"""`slm-deploy new`: scaffold a deployment project from the cookiecutter template, validated before it lands."""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from slm_deploy import __version__
from slm_deploy.errors import Problem, SpecError
from slm_deploy.spec.loader import load_deployment

TEMPLATE = "project"


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
    """Scaffold a project (Pulumi program, stack spec, README) and validate its spec before writing it."""
    from cookiecutter.main import cookiecutter  # loaded here so the other commands start without it

    answers = parse_context(context or [])
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".slm-deploy-new.") as staging:
        template_context = {**answers, "__slm_deploy_version": __version__}  # pins the release that made it
        project = Path(cookiecutter(str(_template_dir()), no_input=no_input, extra_context=template_context,
                                    output_dir=staging, default_config=True))
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
