"""`slm-deploy check BUNDLE`: run the policy pack over a rendered bundle; exit 1 when findings reach --fail-on."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from slm_deploy import __version__
from slm_deploy.errors import BundleError, SlmDeployError

EXIT_FINDINGS = 1
FORMATS = ("text", "json", "sarif")


class CheckOptionError(SlmDeployError):
    """A `check` option has a value outside its allowed set."""


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    """The value, lower-cased, or an error that lists what is allowed."""
    normalised = value.strip().lower()
    if normalised not in allowed:
        raise CheckOptionError(f"{option}: unknown value\n  allowed: {', '.join(allowed)}")
    return normalised


def _spec_settings(bundle: Path, manifest: Mapping[str, Any] | None,
                   spec: Path | None) -> tuple[list[Any], dict[str, Any]]:
    """Waivers and rule options from --spec (which must be the spec the bundle was rendered from), else from
    manifest.json."""
    from slm_deploy.policies.bundle import MANIFEST, recorded_config, recorded_waivers
    from slm_deploy.render.bundle import policy_config
    from slm_deploy.spec.loader import load_deployment

    if spec is None:
        return recorded_waivers(manifest), recorded_config(manifest)
    deployment = load_deployment(spec)
    rendered_from = manifest.get("spec_sha256") if manifest is not None else None
    if rendered_from is not None and rendered_from != deployment.spec_hash:
        raise BundleError(f"{bundle}: was not rendered from {spec} (the spec changed since, or it is another "
                          f"spec; {MANIFEST} records a different spec_sha256)\n"
                          f"  hint: slm-deploy render {spec} --out {bundle}")
    return [w.model_dump(mode="json") for w in deployment.spec.waivers], policy_config(deployment)


def check(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory written by `slm-deploy render`.")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="text, json or sarif (SARIF 2.1.0).")] = "text",
    fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 when a finding is at least this severe: "
                                                           "low, medium, high or critical.")] = "low",
    spec: Annotated[Path | None, typer.Option("--spec", dir_okay=False,
                                              help="Take waivers from this spec (the one the bundle was rendered "
                                                   "from) instead of those recorded in manifest.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON (the same as --format json).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; the exit code says whether findings "
                                                             "reach --fail-on.")] = False,
) -> None:
    """Check BUNDLE against every policy rule; waived findings are listed with their reasons."""
    # The pack loads here, not at start-up, so the other commands do not pay for it.
    from slm_deploy.policies import Severity, check_bundle, fails, to_json, to_sarif, to_text
    from slm_deploy.policies.bundle import require_bundle

    chosen_format = _choice("--format", output_format, FORMATS)
    if as_json and chosen_format not in ("text", "json"):
        raise CheckOptionError("--json: prints the report as JSON, so it cannot be combined with --format "
                               f"{chosen_format}\n  hint: use one of them")
    chosen_format = "json" if as_json else chosen_format
    threshold = Severity(_choice("--fail-on", fail_on, tuple(s.value for s in Severity)))
    manifest = require_bundle(bundle)
    waivers, config = _spec_settings(bundle, manifest, spec)
    report = check_bundle(bundle, waivers=waivers, config=config)
    if not quiet:
        sys.stdout.write(to_json(report) if chosen_format == "json"
                         else to_sarif(report, tool_version=__version__) if chosen_format == "sarif"
                         else to_text(report))
    if fails(report, threshold):
        raise typer.Exit(EXIT_FINDINGS)
