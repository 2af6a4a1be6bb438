"""Regenerate every interface record from the artifacts of the pinned versions (`slm-deploy pins --update`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from slm_deploy.pins.interfaces import RecordError, dump, record_path
from slm_deploy.pins.table import PinRow


@dataclass(frozen=True)
class Inputs:
    """What the derivers that cannot reach their artifact through PyPI need from the maintainer."""

    mirrors: Path | None = None
    """A folder of git mirrors (owner+name/repo, as the fetch cache lays them out, or name.git)."""
    foundry_reference: Path | None = None
    """A saved copy of the Foundry Local CLI reference (reference-cli.md)."""
    foundry_docs_commit: str | None = None
    """The MicrosoftDocs/azure-ai-docs commit that copy was taken from."""
    llama_server: Path | None = None
    """A llama-server of the pinned build; without it the pinned source is built (cmake and a C++ compiler)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one record: written (changed), unchanged, or kept because its input is missing."""

    runtime: str
    state: str
    detail: str = ""


def _tag(rows: dict[str, PinRow], key: str) -> str:
    """The pinned tag a record describes; a pins file without that row keeps the record as it is."""
    if key not in rows:
        raise LookupError(f"a `{key}` row in the pins file")
    return rows[key].tag


T = TypeVar("T")


def _needs(value: T | None, what: str) -> T:
    """An input only some records are derived from; missing, the record is reported as needing it."""
    if value is None:
        raise LookupError(what)
    return value


def _derivers(rows: dict[str, PinRow], inputs: Inputs) -> dict[str, Callable[[], dict]]:
    """One zero-argument deriver per record, each bound to the pinned version it describes."""
    from slm_deploy.pins.interfaces import (
        foundry_local, libraries, llamacpp, mlx_lm, ollama, open_webui, own_servers, vllm,
    )
    from slm_deploy.runtimes.foundry_local import FOUNDRY_RELEASE
    from slm_deploy.runtimes.mlx import MLX_LM_VERSION
    from slm_deploy.runtimes.onnxruntime import MODEL_PREP_REQUIREMENTS

    def ollama_record() -> dict:
        mirrors = _needs(inputs.mirrors, "--mirrors (a git mirror of ollama/ollama)")
        return ollama.derive(_tag(rows, "ollama"), mirrors)

    def foundry_record() -> dict:
        reference = _needs(inputs.foundry_reference, "--foundry-reference (a saved reference-cli.md)")
        return foundry_local.derive(FOUNDRY_RELEASE, reference, _needs(inputs.foundry_docs_commit,
                                                                        "--foundry-docs-commit"))

    hub = next(line.split("==")[1] for line in MODEL_PREP_REQUIREMENTS if line.lower().startswith("huggingface_hub=="))
    found: dict[str, Callable[[], dict]] = {
        "vllm": lambda: vllm.derive(_tag(rows, "vllm")),
        "open-webui": lambda: open_webui.derive(_tag(rows, "open-webui")),
        "ollama": ollama_record,
        "foundry-local": foundry_record,
        "ortgenai": own_servers.derive_ortgenai,
        "gateway": own_servers.derive_gateway,
        "huggingface-hub": lambda: libraries.derive("huggingface-hub", hub),
        "numba": lambda: libraries.derive("numba", libraries.vllm_numba_version(_tag(rows, "vllm"))),
        "llamacpp": lambda: llamacpp.derive(_tag(rows, "llamacpp"), inputs.llama_server),
        "mlx-lm-server": lambda: mlx_lm.derive("mlx-lm-server", MLX_LM_VERSION),
        "mlx-lm-convert": lambda: mlx_lm.derive("mlx-lm-convert", MLX_LM_VERSION),
    }
    return found


def refresh(rows: list[PinRow], folder: Path, inputs: Inputs, only: tuple[str, ...] = ()) -> list[Outcome]:
    """Derive each record and rewrite its file when the content changed; a deriver without its input keeps
    the committed record, and one that fails reports why without stopping the others."""
    outcomes = []
    for runtime, derive in sorted(_derivers({r.key: r for r in rows}, inputs).items()):
        if only and runtime not in only:
            continue
        try:
            text = dump(derive())
        except LookupError as missing:
            outcomes.append(Outcome(runtime, "kept", f"needs {missing.args[0]}"))
            continue
        except RecordError as problem:
            outcomes.append(Outcome(runtime, "error", str(problem)))
            continue
        path = record_path(runtime, folder)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            outcomes.append(Outcome(runtime, "unchanged"))
        else:
            path.write_text(text, encoding="utf-8")
            outcomes.append(Outcome(runtime, "written", str(path)))
    return outcomes
