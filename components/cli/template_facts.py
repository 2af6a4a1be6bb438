"""Facts the project template asks slm-deploy for while cookiecutter renders it (cookiecutter.json's
_extensions): which models need a Hugging Face token, each environment's Key Vault name, where the project
installs slm-deploy from, and where the template is."""

from __future__ import annotations

import hashlib
import os
import re

from jinja2 import Environment
from jinja2.ext import Extension

import slm_deploy

from slm_deploy.cli.install_source import project_source
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.resolve import hub_token_required

VAULT_NAME_LENGTH = 24
VAULT_DIGEST_LENGTH = 6


def needs_hub_token(model_id: str, runtime: str) -> bool:
    """Whether the stack must name a Hugging Face token secret for this catalogue model on this runtime."""
    entry = catalogue().get(model_id)
    return entry is not None and hub_token_required(entry, runtime)


def key_vault_name(deployment: str, environment: str) -> str:
    """A valid Azure Key Vault name (3-24 letters, digits and single hyphens, starting with a letter, ending with a
    letter or digit), distinct per environment: the names shortened, then a digest of both in full."""
    digest = hashlib.sha256(f"{deployment}/{environment}".encode()).hexdigest()[:VAULT_DIGEST_LENGTH]
    words = "-".join(word for word in re.split(r"[^a-z0-9]+", f"{deployment}-{environment}".lower()) if word)
    room = VAULT_NAME_LENGTH - len("kv--") - VAULT_DIGEST_LENGTH
    return "-".join(part for part in ("kv", words[:room].strip("-"), digest) if part)


def generating_version() -> str:
    """The slm-deploy release rendering the template (read when called, so the project follows the installed one)."""
    return slm_deploy.__version__


def template_folder() -> str:
    """The template's folder as an absolute path, for the hooks: cookiecutter renders a hook with that folder as
    the working directory, while its `_repo_dir` is the path as typed (`cookiecutter templates/project`), relative
    to a directory the hook, run from the project folder, no longer knows."""
    return os.getcwd()


class TemplateFacts(Extension):
    """Adds needs_hub_token(), key_vault_name(), generating_version(), project_source() and template_folder() to the
    template's globals."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals.update(needs_hub_token=needs_hub_token, key_vault_name=key_vault_name,
                                   generating_version=generating_version, project_source=project_source,
                                   template_folder=template_folder)
