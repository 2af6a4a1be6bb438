"""Split the per-environment stacks into their files, write the editor schema and the client snippets. The
pre-generation hook validated the same stacks; they are validated again here, before any is written, so a
template edited between the two can never leave a stack slm-deploy refuses."""

import sys
from pathlib import Path


def main() -> int:
    try:
        from slm_deploy.cli.project_clients import clients_section
        from slm_deploy.cli.project_secrets import secrets_section
        from slm_deploy.cli.scaffold import STACKS_TEMPLATE, split_stacks, stack_problems
        from slm_deploy.cli.stack_schema import stack_schema_text
    except ImportError:
        print("error: slm-deploy is not importable by the Python that runs cookiecutter; "
              "install it there (pip install slm-deploy) or use `slm-deploy new`", file=sys.stderr)
        return 2
    combined = Path(STACKS_TEMPLATE)
    stacks = split_stacks(combined.read_text(encoding="utf-8"))
    combined.unlink()
    refused = stack_problems(stacks)
    for message in refused:
        print(f"error: {message}", file=sys.stderr)
    if refused:
        return 2
    for name, text in stacks.items():
        Path(name).write_text(text, encoding="utf-8")
    Path("slm-deploy.schema.json").write_text(stack_schema_text(), encoding="utf-8")
    readme = Path("README.md")
    written = [Path(name) for name in stacks]
    sections = [secrets_section(written), clients_section(written)]
    readme.write_text(readme.read_text(encoding="utf-8") + "".join("\n" + s for s in sections if s), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if Path(__file__).name != "post_gen_project.py":
        Path(__file__).unlink()  # cookiecutter's rendered copy of this hook is not kept in the temporary folder
    sys.exit(main())
