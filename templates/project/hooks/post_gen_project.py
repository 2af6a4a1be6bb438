"""Split the per-environment stacks into their files, write the editor schema and the client snippets, and
validate every stack with slm-deploy itself, so a project that would not render is never left behind."""

import sys
from pathlib import Path

MARKER = "#>>> "


def split_stacks(source: Path) -> list[Path]:
    """Write each `#>>> Pulumi.<env>.yaml` section of the combined file to its own stack file."""
    stacks: list[Path] = []
    lines: list[str] = []
    for line in source.read_text(encoding="utf-8").splitlines() + [MARKER]:
        if line.startswith(MARKER):
            if stacks:
                stacks[-1].write_text("\n".join(lines).strip() + "\n", encoding="utf-8")
            if line != MARKER:
                stacks.append(Path(line[len(MARKER):].strip()))
            lines = []
        else:
            lines.append(line)
    source.unlink()
    return stacks


def main() -> int:
    stacks = split_stacks(Path(".stacks.yaml"))
    try:
        from slm_deploy.errors import SlmDeployError
        from slm_deploy.cli.project_clients import clients_section
        from slm_deploy.cli.stack_schema import stack_schema_text
        from slm_deploy.render.deployable import deployable_plan
        from slm_deploy.spec.loader import load_deployment
    except ImportError:
        print("error: slm-deploy is not importable by the Python that runs cookiecutter; "
              "install it there (pip install slm-deploy) or use `slm-deploy new`", file=sys.stderr)
        return 2
    Path("slm-deploy.schema.json").write_text(stack_schema_text(), encoding="utf-8")
    failed = False
    for stack in stacks:
        try:
            deployable_plan(load_deployment(stack))  # every check `slm-deploy validate` and `render` run
        except SlmDeployError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
    if failed:
        return 2
    readme = Path("README.md")
    readme.write_text(readme.read_text(encoding="utf-8") + "\n" + clients_section(stacks), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
