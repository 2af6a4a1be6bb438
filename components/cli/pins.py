"""`slm-deploy pins`: check that registries still serve the pinned digests, or rewrite them after review."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


EXIT_OK, EXIT_DRIFT, EXIT_BAD_INPUT = 0, 1, 2
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def default_pins_file() -> Path:
    """The table shipped with the package (components/runtimes/pins.yaml in a checkout)."""
    return Path(str(resources.files("slm_deploy.runtimes").joinpath("pins.yaml")))


def pins(
    check: Annotated[bool, typer.Option("--check", help="Report pins whose tag moved (the default).")] = False,
    update: Annotated[bool, typer.Option("--update", help="Write the digests the tags resolve to now.")] = False,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Pins file (default: the shipped table).",
                                              dir_okay=False)] = None,
    mirrors: Annotated[Path | None, typer.Option(
        "--mirrors", help="With --update: a folder of git mirrors (ollama/ollama) for source-derived records.",
        file_okay=False)] = None,
    foundry_reference: Annotated[Path | None, typer.Option(
        "--foundry-reference", help="With --update: a saved copy of the Foundry Local CLI reference (reference-cli.md).",
        dir_okay=False)] = None,
    foundry_docs_commit: Annotated[str | None, typer.Option(
        "--foundry-docs-commit", help="The MicrosoftDocs/azure-ai-docs commit that reference was saved from.")] = None,
    llama_server: Annotated[Path | None, typer.Option(
        "--llama-server", help="With --update: a llama-server of the pinned build (default: build it from the "
                               "pinned source with cmake, once per machine).", dir_okay=False)] = None,
) -> None:
    """Ask each registry whether the pinned tags still resolve to the pinned digests (exit 1 on drift).

    --update also regenerates the interface records beside the pins file (interfaces/<runtime>.yaml) from
    the artifacts of the pinned versions."""
    # The HTTP client loads here, not at start-up, so the other commands do not pay for it.
    from slm_deploy.pins.check import check_pins
    from slm_deploy.pins.registry import RegistryClient
    from slm_deploy.pins.table import PinsFileError, read_pins, rewrite_digests

    if check and update:
        err.print("error: choose one of --check and --update")
        raise typer.Exit(EXIT_BAD_INPUT)
    path = file or default_pins_file()
    try:
        rows = read_pins(path)
    except PinsFileError as problem:
        err.print(f"error: {problem}")
        raise typer.Exit(EXIT_BAD_INPUT) from problem
    with RegistryClient() as client:
        statuses = check_pins(rows, client)
    for status in statuses:
        reference = f"{status.row.image}:{status.row.tag}"
        if status.state == "ok":
            out.print(f"ok     {status.row.key}  {reference}")
        elif status.state == "drift":
            out.print(f"drift  {status.row.key}  {reference}  {status.row.digest} -> {status.current} ({status.detail})")
        else:
            out.print(f"error  {status.row.key}  {reference}  {status.detail}")
    if update:
        moved = {s.row.key: digest for s in statuses if (digest := s.update_to) is not None}
        if moved:
            path.write_text(rewrite_digests(path.read_text(encoding="utf-8"), moved), encoding="utf-8")
            out.print(f"updated {len(moved)} digest(s) in {path}; review the diff and the sources before committing")
        failed = [s for s in statuses if s.state == "error"]
        records_failed = _refresh_records(path, rows, mirrors, foundry_reference, foundry_docs_commit, llama_server)
        raise typer.Exit(EXIT_DRIFT if failed or records_failed else EXIT_OK)
    raise typer.Exit(EXIT_OK if all(s.state == "ok" for s in statuses) else EXIT_DRIFT)


def _refresh_records(path: Path, rows, mirrors: Path | None, reference: Path | None, commit: str | None,
                     llama_server: Path | None) -> bool:
    """Rewrite the records in interfaces/ beside the pins file; True when a deriver failed."""
    from slm_deploy.pins.interfaces.refresh import Inputs, refresh

    folder = path.parent / "interfaces"
    if not folder.is_dir():
        out.print(f"records: no interfaces/ folder beside {path.name}; nothing to refresh")
        return False
    outcomes = refresh(rows, folder, Inputs(mirrors, reference, commit, llama_server))
    for outcome in outcomes:
        out.print(f"record {outcome.state:<9} {outcome.runtime}  {outcome.detail}".rstrip())
    return any(o.state == "error" for o in outcomes)
