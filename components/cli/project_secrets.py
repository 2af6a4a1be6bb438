"""The stack secrets section of a scaffolded project's README: the values `pulumi up` writes into the cluster or
Key Vault, which must be set in each stack's config before the first preview. Names and commands, never a value."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from slm_deploy.secret_values import secrets_pulumi_writes
from slm_deploy.spec.loader import load_deployment
from slm_deploy.spec.secret_uses import config_key, purpose_of
from slm_deploy.spec.secrets import PURPOSES


def stack_secret_keys(stack: Path) -> list[str]:
    """The config keys (slm-deploy:secret-<name>) a stack's program reads, in name order."""
    return [config_key(name) for name in secrets_pulumi_writes(load_deployment(stack))]


def secrets_section(stacks: list[Path]) -> str:
    """A README section with the file each secret is made from and the command that stores it in each stack (an
    empty string when Pulumi writes no secret: Compose and host projects keep theirs in files)."""
    commands, files, formats = [], [], {}
    for stack in stacks:
        deployment = load_deployment(stack)
        env = stack.stem.removeprefix("Pulumi.")
        for name in secrets_pulumi_writes(deployment):
            formats[name] = PURPOSES[purpose_of(deployment.spec, name)].file_format
            files.append(f"./{name}.{env}")
            commands.append(f"pulumi config set --secret {config_key(name)} -s {env} < {files[-1]}")
    if not commands:
        return ""
    made = [f"- `<name>.<stack>` for `{name}`: {file_format}" for name, file_format in formats.items()]
    return "\n".join([
        "## Stack secrets", "",
        "`pulumi up` writes these values into the cluster's store, so `pulumi preview` stops until each stack holds "
        "them (encrypted in its `Pulumi.<stack>.yaml`). Make one file per secret and stack (distinct values per "
        "stack) with `umask 077`, store it, then delete it:",
        "", *made, "", "```sh", *commands, "rm -f " + " ".join(files), "```", "",
        "The CI preview checks the same keys and fails naming one that is missing or stored in plain text (set "
        "without --secret) before Pulumi runs.", ""])


def unsafe_secret_keys(stack: Path) -> dict[str, str]:
    """The keys the stack's program reads that its config does not hold yet, or holds in plain text (set without
    --secret, so the value is in the repository for anyone who reads it), with what is wrong with each."""
    document = yaml.safe_load(stack.read_text(encoding="utf-8")) or {}
    config = document.get("config") or {}
    return {key: "is not set" if key not in config else "is stored in plain text (rotate the value: it is in the "
                 "repository's history)"
            for key in stack_secret_keys(stack)
            if key not in config or not (isinstance(config[key], dict) and "secure" in config[key])}


def main(argv: list[str]) -> int:
    """For CI: one GitHub error annotation per missing or plain-text key of each stack file given, exit 1 when any
    is."""
    unsafe = 0
    for stack in map(Path, argv):
        env = stack.stem.removeprefix("Pulumi.")
        for key, problem in unsafe_secret_keys(stack).items():
            unsafe += 1
            print(f"::error file={stack}::{key} {problem} in stack {env}: run "
                  f"`pulumi config set --secret {key} -s {env} < ./<file>` and commit {stack} (README: Stack secrets)")
    return 1 if unsafe else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
