"""README.md stays true: its spec reference is the schema's, and the commands it shows run as shown."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from slm_deploy.cli.reference import reference_markdown
from tests.conftest import ROOT, run_cli

README = ROOT / "README.md"
OFFLINE = {"validate", "render", "check", "new", "schema"}
"""Subcommands that need no network, registry, cluster or container engine."""


def shell_commands(markdown: str) -> list[list[str]]:
    """The offline `slm-deploy` commands of every sh block, in order, comments and continuations resolved."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if len(argv) > 1 and argv[0] == "slm-deploy" and argv[1] in OFFLINE:
                commands.append(argv)
    return commands


def test_spec_reference_is_current() -> None:
    assert reference_markdown() in README.read_text(encoding="utf-8"), (
        "the README's spec reference is stale: run `slm-deploy schema --reference README.md`")


def test_spec_reference_lists_every_top_level_field() -> None:
    from slm_deploy.spec.schema import deployment_schema

    reference = reference_markdown()
    for field in deployment_schema()["properties"]:
        assert f"| `{field}`" in reference


def test_update_rewrites_only_the_marked_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text(encoding="utf-8").replace(reference_markdown(), reference_markdown()
                                                                 .replace("| `name`", "| `stale`")))
    result = run_cli("schema", "--reference", str(readme))
    assert result.code == 0 and "updated" in result.stdout
    assert readme.read_text(encoding="utf-8") == README.read_text(encoding="utf-8")


def test_readme_commands_run_offline(tmp_path: Path) -> None:
    commands = shell_commands(README.read_text(encoding="utf-8"))
    assert {argv[1] for argv in commands} >= {"validate", "render", "check", "new"}
    (tmp_path / "stacks").symlink_to(ROOT / "stacks")
    for argv in commands:
        result = run_cli(*argv[1:], cwd=tmp_path)
        assert result.code == 0, f"{shlex.join(argv)}: {result.stderr}"


def test_update_refuses_a_file_without_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# A project\n")
    result = run_cli("schema", "--reference", str(readme))
    assert result.code == 2 and "no section marked for the spec reference" in result.stderr
    assert readme.read_text() == "# A project\n"
