"""The `slm-deploy` command: exit 0 ok, 1 findings, 2 bad input; errors never show a traceback."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Protocol, cast

import typer
from rich.console import Console
from rich.text import Text

from slm_deploy import __version__
from slm_deploy.bench.command import bench, bench_report
from slm_deploy.cli.build import build
from slm_deploy.cli.check import check
from slm_deploy.cli.new import new
from slm_deploy.cli.pins import pins
from slm_deploy.cli.reference import update_readme
from slm_deploy.cli.render_many import bundle_dir, render_specs
from slm_deploy.cli.stack_schema import stack_schema_text
from slm_deploy.cli.summary import plan_summary, render_summary, render_summary_text, summary_table
from slm_deploy.errors import SlmDeployError
from slm_deploy.render.writer import write_bundles
from slm_deploy.smoke.command import smoke
from slm_deploy.spec.schema import deployment_schema_text

EXIT_BAD_INPUT = 2
# click's UsageError, whether typer bundles click (>= 0.2x) or depends on it
USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class _UsageError(Protocol):
    """What main() uses of click's UsageError, found at run time above."""

    def show(self) -> None:
        """Print the usage line and the error to stderr."""

app = typer.Typer(
    name="slm-deploy",
    help="Render hardened deployments of small language models from one typed spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
if not out.is_terminal:
    out = Console(width=160)
err = Console(stderr=True, soft_wrap=True)

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success (errors still go to stderr).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
SpecArg = Annotated[Path, typer.Argument(help="A stacks/Pulumi.<stack>.yaml file or a bare spec YAML.",
                                         dir_okay=False)]


def _version(value: bool) -> None:
    if value:
        out.print(f"slm-deploy {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Typed specs to hardened Dockerfiles, Compose projects and Kubernetes workloads."""


@app.command()
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
        out.print("\n".join(render_summary_text(s) for s in summaries), markup=False, highlight=False)


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="One or more spec files.", dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved plan as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Show the resolved plan: model tier, memory estimate and the flags chosen for the runtime."""
    # rendered in memory: what render refuses (SLOs, waivers), validate refuses too, for every file at once
    summaries = [plan_summary(deployment) for deployment, _ in render_specs(specs)]
    if as_json:
        sys.stdout.write(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2) + "\n")
    elif not quiet:
        out.print(summary_table(summaries))
        out.print(f"{len(summaries)} spec(s) valid", markup=False, highlight=False)


@app.command()
def schema(
    stack: Annotated[bool, typer.Option("--stack", help="The schema of a whole Pulumi stack file carrying the spec "
                                                       "under config.slm-deploy:deployment.")] = False,
    reference: Annotated[Path | None, typer.Option("--reference", dir_okay=False,
                                                   help="Rewrite the marked field-reference section of this "
                                                        "Markdown file (README.md) from the schema.")] = None,
) -> None:
    """Print the spec's JSON Schema (for yaml-language-server and editors)."""
    if reference is not None:
        changed = update_readme(reference)
        out.print(f"{reference}: spec reference {'updated' if changed else 'already current'}",
                  markup=False, highlight=False)
        return
    sys.stdout.write(stack_schema_text() if stack else deployment_schema_text())


app.command()(new)
app.command()(build)
app.command()(check)
app.command()(pins)
app.command()(smoke)
app.command()(bench)
app.command("bench-report")(bench_report)


def error_document(exc: SlmDeployError) -> dict:
    """What --json prints when the command fails: the exit code and each problem's fields, as stderr says them."""
    problems = [asdict(problem) for problem in getattr(exc, "problems", [])]  # SpecError's, the template's reasons
    return {"error": {"exit_code": exc.exit_code, "message": str(exc), "problems": problems}}


def main() -> None:
    """Console-script entry point: turn every user error into one message and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except SlmDeployError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)  # no markup: keeps [a-z]
        if "--json" in sys.argv[1:]:
            sys.stdout.write(json.dumps(error_document(exc), indent=2) + "\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except USAGE_ERROR as exc:
        cast(_UsageError, exc).show()
        sys.exit(EXIT_BAD_INPUT)
    if isinstance(code, int) and code:
        sys.exit(code)  # without standalone mode, click returns a command's typer.Exit code instead of exiting
