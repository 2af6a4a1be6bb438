"""What the project template's hooks run: the stacks a set of answers makes, rendered in memory from the
template and validated with the loader and planner `slm-deploy validate` and `render` use, before a file lands."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from slm_deploy.errors import SpecError
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.spec.loader import load_deployment_text

STACKS_TEMPLATE = ".stacks.yaml"
"""One file holding every environment's stack; the post-generation hook splits it at the markers."""
MARKER = "#>>> "
PROJECT_FOLDER = "{{cookiecutter.deployment_name}}"


def split_stacks(text: str) -> dict[str, str]:
    """Each `#>>> Pulumi.<env>.yaml` section of the combined stacks file, by file name."""
    stacks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARKER):
            current = stacks.setdefault(line[len(MARKER):].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() + "\n" for name, lines in stacks.items()}


def rendered_stacks(answers: dict[str, Any]) -> dict[str, str]:
    """The stack files cookiecutter writes for these answers, rendered from the template as cookiecutter does."""
    from cookiecutter.environment import StrictEnvironment  # the hooks' Python has cookiecutter; the CLI loads it late

    source = Path(answers["_repo_dir"]) / PROJECT_FOLDER / STACKS_TEMPLATE
    environment = StrictEnvironment(context={"cookiecutter": answers}, keep_trailing_newline=True)
    return split_stacks(environment.from_string(source.read_text(encoding="utf-8")).render(cookiecutter=answers))


def stack_problems(stacks: dict[str, str]) -> list[str]:
    """One message per field slm-deploy refuses, naming every stack it refuses it in (the figures, where they
    differ between stacks, are the first one's)."""
    found: dict[str, tuple[list[str], str]] = {}
    for name, text in stacks.items():
        try:
            deployable_plan(load_deployment_text(text, name))
        except SpecError as exc:
            for problem in exc.problems:
                found.setdefault(problem.path, ([], replace(problem, location="").render()))[0].append(name)
    return [f"{', '.join(names)}: {message}" for names, message in found.values()]
