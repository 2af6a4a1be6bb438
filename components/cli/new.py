"""`slm-deploy new`: scaffold a deployment project from the cookiecutter template, validated before it lands."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from slm_deploy.cli.template_syntax import TEMPLATE, template_syntax_problems, unknown_variable
from slm_deploy.errors import Problem, SlmDeployError, SpecError
from slm_deploy.spec.fields import (
    OWN_NAMESPACE_ALLOWED, PATTERN_DESCRIPTIONS, REGISTRY_ALLOWED, SERVICE_NAME_PATTERN, RegistryHost,
    shared_registry_problem,
)



@contextmanager
def _output_folder(folder: Path) -> Iterator[None]:
    """Make `folder` and its missing parents, and take back the ones made when the command fails: a refusal
    leaves nothing behind."""
    made = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise SpecError(Problem("--output-dir", "cannot be made a folder (a file is in the way, or no permission)",
                                allowed="a folder, or a path where one can be created")) from None
    try:
        yield
    except BaseException:
        for path in made:  # deepest first; the staging folder inside is already gone
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise


class TemplateRefused(SlmDeployError):
    """The template's hooks refused the answers; they printed each reason before this (kept as problems for --json)."""

    def __init__(self, hook_output: list[str]) -> None:
        self.problems = _hook_problems(hook_output)
        super().__init__("the template refused these answers, for the reasons given; nothing was written")


HOOK_ERROR = "error: "
"""How the template's hooks start each reason they print."""
HOOK_DETAILS = {"  allowed: ": "allowed", "  hint: ": "hint"}
"""The lines a reason may continue with, as Problem.render writes them, and the Problem field each fills."""


def _hook_problems(hook_output: list[str]) -> list[Problem]:
    """The hooks' reasons as problems, each with the allowed and hint lines printed under it."""
    problems: list[Problem] = []
    for line in hook_output:
        if line.startswith(HOOK_ERROR):
            problems.append(Problem("answers", line.removeprefix(HOOK_ERROR)))
        detail = next((prefix for prefix in HOOK_DETAILS if line.startswith(prefix)), None)
        if detail and problems:
            problems[-1] = replace(problems[-1], **{HOOK_DETAILS[detail]: line.removeprefix(detail)})
    return problems


class PromptsEnded(SlmDeployError):
    """Standard input ended while cookiecutter was asking for an answer (no terminal, e.g. `< /dev/null`)."""


@contextmanager
def _hook_output() -> Iterator[list[str]]:
    """File descriptor 2 into a temporary file while cookiecutter runs (its hooks are child processes writing
    there), then copied to the real stderr and its lines into the list yielded: the reasons are shown unchanged
    and read back for --json."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read()
            sys.stderr.write(text)
            lines.extend(text.splitlines())


def _template_dir() -> Path:
    return Path(str(resources.files("slm_deploy.templates").joinpath(TEMPLATE)))


PROJECT_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$"
FREE_TEXT = {
    "project_name": (PROJECT_NAME, "letters, digits, spaces and . _ -, starting with a letter or digit, at most 63"),
    "deployment_name": (SERVICE_NAME_PATTERN, PATTERN_DESCRIPTIONS[SERVICE_NAME_PATTERN] + ", at most 40 characters"),
}
"""Variables typed by hand that land in file names or YAML: checked before the template writes anything."""


def _default_deployment_name(project_name: str) -> str:
    """What the template derives deployment_name from (cookiecutter.json)."""
    return project_name.lower().replace(" ", "-").replace("_", "-")


def _answer_problems(defaults: dict, context: dict[str, str]) -> list[Problem]:
    """Every free-text answer, and the deployment name the template would derive, in the form it must have."""
    answers = {**{k: v for k, v in defaults.items() if isinstance(v, str)}, **context}
    if "deployment_name" not in context:
        answers["deployment_name"] = _default_deployment_name(answers["project_name"])
    problems = []
    for key, (pattern, allowed) in FREE_TEXT.items():
        limit = 40 if key == "deployment_name" else 100
        if not re.fullmatch(pattern, answers[key]) or len(answers[key]) > limit:
            hint = ("deployment_name defaults to project_name in lower case; set deployment_name=... explicitly"
                    if key == "deployment_name" and "deployment_name" not in context else "")
            problems.append(Problem(key, "is not in the allowed form", allowed=allowed, hint=hint))
    try:
        if answers["registry"]:  # empty: Compose builds into the local engine; the hook refuses it on a cluster
            TypeAdapter(RegistryHost).validate_python(answers["registry"], strict=True)
            shared = shared_registry_problem(answers["registry"])
            if shared:
                problems.append(Problem("registry", shared, allowed=OWN_NAMESPACE_ALLOWED))
    except ValidationError:
        problems.append(Problem("registry", "is not a registry host", allowed=REGISTRY_ALLOWED))
    return problems


REPLAY_ALLOWED = "a replay file cookiecutter wrote for this template, such as ~/.cookiecutter_replay/project.json"


def replayed_answers(path: Path) -> dict[str, str]:
    """The public answers of a cookiecutter replay file. Its private keys are ignored, never passed on: cookiecutter
    would import a replayed `_extensions` and write replayed derived (`__`) answers unchecked, and the template
    derives its own from the public answers."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise SpecError(Problem("--replay-file", "cannot be read as JSON", allowed=REPLAY_ALLOWED)) from None
    answers = document.get("cookiecutter") if isinstance(document, dict) else None
    if not isinstance(answers, dict):
        raise SpecError(Problem("--replay-file", "holds no `cookiecutter` object of answers", allowed=REPLAY_ALLOWED))
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    if any(not isinstance(value, str) for value in public.values()):
        raise SpecError(Problem("--replay-file", "holds an answer that is not text", allowed=REPLAY_ALLOWED))
    return public


def parse_context(pairs: list[str], replayed: dict[str, str] | None = None) -> dict[str, str]:
    """Replayed answers, then key=value arguments over them, checked against the template's variables, choices and
    forms before anything is written."""
    defaults = json.loads((_template_dir() / "cookiecutter.json").read_text(encoding="utf-8"))
    public = sorted(k for k in defaults if not k.startswith("_"))
    unknown = [position for position, key in enumerate(replayed or {}, start=1) if key not in public]
    if unknown:
        raise SpecError(Problem("--replay-file", f"answer {unknown[0]} is not a template variable",
                                allowed=", ".join(public)))
    context = dict(replayed or {})
    for index, pair in enumerate(pairs):
        key, sep, value = pair.partition("=")
        if not sep or key not in public:
            raise SpecError(unknown_variable(index + 1, public))
        context[key] = value
    for key, value in context.items():
        choices = defaults[key]
        if isinstance(choices, list) and value not in choices:
            raise SpecError(Problem(key, "is not offered", allowed=", ".join(choices)))
    problems = template_syntax_problems(context)
    if problems:  # checked first: the other checks must not see such a value either
        raise SpecError(problems)
    problems = _answer_problems(defaults, context)
    if problems:
        raise SpecError(problems)
    return context


REPLAY_STAGING = ".replay"
"""Where cookiecutter writes the replay file while the project is staged: a refused project's answers are not kept."""


def _keep_replay(staged: Path) -> None:
    """The replay file of a project written, where cookiecutter keeps them (`--replay-file` reads it back)."""
    from cookiecutter.config import DEFAULT_CONFIG

    kept = Path(DEFAULT_CONFIG["replay_dir"]).expanduser()
    kept.mkdir(parents=True, exist_ok=True)
    for replay in staged.glob("*.json"):
        shutil.move(str(replay), kept / replay.name)


def new(
    context: Annotated[list[str] | None, typer.Argument(help="Template answers as key=value.")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", file_okay=False,
                                             help="Where the project folder is created.")] = Path("."),
    no_input: Annotated[bool, typer.Option("--no-input", help="Use defaults and key=value answers only.")] = False,
    replay_file: Annotated[Path | None, typer.Option(
        "--replay-file",
        help="Take the answers of a cookiecutter replay file (its template variables only; key=value answers "
             "override them); nothing is asked.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the created project and its stacks as JSON; "
                                                         "errors as a JSON document.")] = False,
) -> None:
    """Scaffold a project (a stack per environment, tests, CI, editor schema, README) and validate it before writing."""
    from cookiecutter.exceptions import FailedHookException  # loaded here so the other commands start without it
    from cookiecutter.main import cookiecutter

    answers = parse_context(context or [], replayed_answers(replay_file) if replay_file else None)
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)  # the hooks print the reasons; no tracebacks
    with _output_folder(output_dir), tempfile.TemporaryDirectory(dir=output_dir, prefix=".slm-deploy-new.") as staging:
        with _hook_output() as hook_output:
            try:
                project = Path(cookiecutter(str(_template_dir()), no_input=no_input or replay_file is not None,
                                            extra_context=answers, output_dir=staging,
                                            default_config={"replay_dir": str(Path(staging) / REPLAY_STAGING)}))
            except FailedHookException:
                refused = True
            except EOFError:
                raise PromptsEnded("standard input ended before every prompt was answered (no terminal?): answer "
                                   "in a terminal, or pass --no-input with key=value answers (defaults fill the "
                                   "rest); nothing was written") from None
            else:
                refused = False
        if refused:
            raise TemplateRefused(hook_output)
        target = output_dir / project.name
        if os.path.lexists(target):  # a dangling link too: moving onto it would fail
            raise SpecError(Problem("deployment_name", "names a folder that already exists in --output-dir",
                                    hint="choose another deployment_name or --output-dir"))
        shutil.move(str(project), target)
        _keep_replay(Path(staging) / REPLAY_STAGING)
    if as_json:
        stacks = sorted(stack.name for stack in target.glob("Pulumi.*.yaml"))
        sys.stdout.write(json.dumps({"created": str(target), "stacks": stacks}, indent=2) + "\n")
    else:
        typer.echo(f"created {target}")
