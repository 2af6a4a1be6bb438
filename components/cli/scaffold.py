"""What the project template's hooks run: the stacks a set of answers makes, rendered in memory from the
template and validated with the loader and planner `slm-deploy validate` and `render` use, before a file lands."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from slm_deploy.errors import Problem, SpecError
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
    source = Path(answers["_repo_dir"]) / PROJECT_FOLDER / STACKS_TEMPLATE
    environment = _template_environment(answers, keep_trailing_newline=True)
    return split_stacks(environment.from_string(source.read_text(encoding="utf-8")).render(cookiecutter=answers))


def _template_context(answers: dict[str, Any]) -> dict[str, Any]:
    """The template's cookiecutter.json, read from the template folder the answers were rendered from."""
    return json.loads((Path(answers["_repo_dir"]) / "cookiecutter.json").read_text(encoding="utf-8"))


def _template_environment(answers: dict[str, Any], **options: Any) -> Any:
    """Cookiecutter's environment with the template's own extensions, never the ones an answer names."""
    from cookiecutter.environment import StrictEnvironment  # the hooks' Python has cookiecutter; the CLI loads it late

    extensions = _template_context(answers)["_extensions"]
    return StrictEnvironment(context={"cookiecutter": {"_extensions": extensions}}, **options)


def derived_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The template's derived (`__`) text answers, rendered from the public answers in cookiecutter.json's order as
    cookiecutter renders them."""
    offered = _template_context(answers)
    environment = _template_environment(answers)
    derived = {key: value for key, value in answers.items() if not key.startswith("_")}
    for key, raw in offered.items():
        if key.startswith("__") and isinstance(raw, str):
            derived[key] = environment.from_string(raw).render(cookiecutter=derived)
    return {key: value for key, value in derived.items() if key.startswith("__")}


def private_answer_problems(answers: dict[str, Any]) -> list[str]:
    """Private answers other than the template's own or the ones it derives: a replay file (`cookiecutter
    --replay-file`) sets every key, and cookiecutter uses private ones unchecked (it imports `_extensions`, writes
    `__slm_deploy_requirement` into requirements.txt)."""
    offered = _template_context(answers)
    found = []
    if answers.get("_extensions") != offered["_extensions"]:
        found.append("_extensions: differs from the template's own (cookiecutter imports the modules it names): "
                     "remove _extensions from the replay file")
    found += [f"{key}: differs from what the template derives from the other answers: remove {key} from the "
              "replay file" for key, value in derived_answers(answers).items() if answers.get(key) != value]
    return found


STACK_FIELD_ANSWERS = [
    (re.compile(r"^(name|targets\.kubernetes\.(monitoring_)?namespace|targets\.compose\.project_name)$"),
     "deployment_name"),
    (re.compile(r"^model\.id$"), "model"),
    (re.compile(r"^runtime\.kind$"), "runtime"),
    (re.compile(r"^resources\.gpu(\.|$)"), "gpu_type"),
    (re.compile(r"^exposure\.host$"), "ingress_host"),
    (re.compile(r"^exposure\.bind_address$"), "bind_address"),
    (re.compile(r"^targets\.docker\.registry$"), "registry"),
    (re.compile(r"^targets\.host\.os$"), "host_os"),
    (re.compile(r"^secret_stores\.azure_key_vaults\.[^.]+\.tenant_id$"), "azure_tenant_id"),
    (re.compile(r"^secret_stores\.azure_key_vaults\.[^.]+\.secrets_expire_on$"), "secrets_expire_on"),
    (re.compile(r"^secret_stores\.external_secrets\.[^.]+\.provider\.server$"), "vault_server"),
    (re.compile(r"^monitoring(\.|$)"), "monitoring"),
    (re.compile(r"^exposure(\.|$)"), "exposure"),
]
"""Which answer writes a stack field, so a refusal points at what the user typed (first match wins)."""


def as_answer_problem(problem: Problem) -> Problem:
    """The problem without its file location, pointing at the answer that wrote the field (its hint, which names
    stack fields, kept as what a stack edit could do after generation)."""
    answer = next((answer for pattern, answer in STACK_FIELD_ANSWERS if pattern.match(problem.path)), None)
    if answer is None:
        return replace(problem, location="")
    hint = f"change the {answer} answer" + (f"; or, after generating, edit the stack: {problem.hint}"
                                              if problem.hint else "")
    return replace(problem, location="", path=f"{answer} answer, stack field {problem.path}", hint=hint)


def stack_problems(stacks: dict[str, str]) -> list[str]:
    """One message per field slm-deploy refuses, naming every stack it refuses it in (the figures, where they
    differ between stacks, are the first one's)."""
    found: dict[str, tuple[list[str], str]] = {}
    for name, text in stacks.items():
        try:
            deployable_plan(load_deployment_text(text, name))
        except SpecError as exc:
            for problem in exc.problems:
                shown = as_answer_problem(problem)
                found.setdefault(problem.path, ([], shown.render()))[0].append(name)
    return [f"{', '.join(names)}: {message}" for names, message in found.values()]


def regeneration_problems(folder: Path, stacks: dict[str, str]) -> list[str]:
    """Why generating these stacks over an existing project (`cookiecutter -f`) would lose something: a stack of an
    environment no longer named would be left behind, still tracked by Pulumi, and settings the template does not
    write (`pulumi config set` values, encrypted secrets) would be overwritten. Refused rather than deleted: those
    files may hold the only copy of a stack's secrets."""
    found = []
    for existing in sorted(folder.glob("Pulumi.*.yaml")):
        if existing.name not in stacks:
            env = existing.stem.removeprefix("Pulumi.")
            found.append(f"{existing.name}: this project has a stack for an environment the answers no longer "
                         f"name; add it to environments, or retire it first (`pulumi stack rm {env}`, then delete "
                         "the file)")
            continue
        try:
            kept = _config_keys(existing.read_text(encoding="utf-8")) - _config_keys(stacks[existing.name])
        except (yaml.YAMLError, UnicodeDecodeError):
            found.append(f"{existing.name}: is not a YAML stack file this template wrote, and regenerating would "
                         "overwrite it; move it aside first")
            continue
        if kept:
            found.append(f"{existing.name}: holds settings the template does not write ({', '.join(sorted(kept))}), "
                         "which regenerating would overwrite; generate into another folder and merge by hand")
    return found


def _config_keys(text: str) -> set[str]:
    """The settings of a Pulumi stack file: its config keys, and its other top-level keys (the secrets provider and
    its encryption salt or key, which decrypt the stack's secrets)."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        return set()
    config = document.get("config")
    return (set(config) if isinstance(config, dict) else set()) | {str(key) for key in document if key != "config"}
