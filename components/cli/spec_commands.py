"""The commands that read specs: render writes bundles, validate shows the resolved plan, schema prints the schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from slm_deploy.cli.render_many import bundle_dir, render_specs
from slm_deploy.cli.summary import render_summary, render_summary_text

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success (errors still go to stderr).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]


def render(
    specs: Annotated[list[Path], typer.Argument(help="One or more stacks/Pulumi.<stack>.yaml files or bare spec "
                                                "YAMLs.", dir_okay=False, metavar="SPEC")],
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle directory (default build/<name>); with "
                                                 "several specs, the directory holding <name>/ for each.",
                                                 file_okay=False)] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the bundle for each SPEC atomically; nothing is written unless every spec renders and every target
    directory may be written, and a directory that is not a bundle is never overwritten."""
    from slm_deploy.render.writer import write_bundles

    rendered = render_specs(specs)
    targets = [(bundle, bundle_dir(deployment.spec.name, out_dir, several=len(specs) > 1))
               for deployment, bundle in rendered]
    write_bundles(targets)
    summaries = [render_summary(deployment.spec.name, target, bundle.files)
                 for (deployment, bundle), (_, target) in zip(rendered, targets)]
    if as_json:
        document = summaries[0] if len(specs) == 1 else summaries
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif not quiet:
        sys.stdout.write("\n".join(render_summary_text(s) for s in summaries) + "\n")


def validate(
    specs: Annotated[list[Path], typer.Argument(help="One or more spec files.", dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved plan as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Show the resolved plan: model tier, memory estimate and the flags chosen for the runtime."""
    from slm_deploy.cli.console import stdout_console
    from slm_deploy.cli.summary import plan_summary, summary_table

    # rendered in memory: what render refuses (SLOs, waivers), validate refuses too, for every file at once
    summaries = [plan_summary(deployment) for deployment, _ in render_specs(specs)]
    if as_json:
        sys.stdout.write(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2) + "\n")
    elif not quiet:
        out = stdout_console()
        out.print(summary_table(summaries))
        out.print(f"{len(summaries)} spec(s) valid", markup=False, highlight=False)


def schema(
    stack: Annotated[bool, typer.Option("--stack", help="The schema of a whole Pulumi stack file carrying the spec "
                                                       "under config.slm-deploy:deployment.")] = False,
    reference: Annotated[Path | None, typer.Option("--reference", dir_okay=False,
                                                   help="Rewrite the marked field-reference section of this "
                                                        "Markdown file (README.md) from the schema.")] = None,
) -> None:
    """Print the spec's JSON Schema (for yaml-language-server and editors)."""
    if reference is not None:
        from slm_deploy.cli.reference import update_readme

        changed = update_readme(reference)
        sys.stdout.write(f"{reference}: spec reference {'updated' if changed else 'already current'}\n")
        return
    if stack:
        from slm_deploy.cli.stack_schema import stack_schema_text

        sys.stdout.write(stack_schema_text())
    else:
        from slm_deploy.spec.schema import deployment_schema_text

        sys.stdout.write(deployment_schema_text())
