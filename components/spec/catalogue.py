"""The model catalogue: pinned sources and the architecture facts sizing needs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


from slm_deploy.spec.model_section import Architecture
from slm_deploy.spec.yaml_source import load_shipped


@dataclass(frozen=True)
class CatalogueEntry:
    """One model with every per-runtime source the project knows for it."""

    id: str
    display_name: str
    parameters_billion: float
    native_context: int
    architecture: Architecture
    hf_repo: str
    hf_revision: str
    gated: bool
    ollama_tag: str | None
    ollama_architecture: str | None
    """The Ollama library model's GGUF architecture: whether Ollama runs it on its own engine."""
    gguf: dict[str, str] | None
    onnx: dict[str, str] | None
    foundry_alias: str | None
    model_type: str
    """config.json `model_type`: the architecture converters such as mlx_lm.convert build the model from."""
    custom_code: bool
    """Whether the checkpoint names code of its own (auto_map), which model preparation refuses to run."""


def _entry(model_id: str, row: dict[str, Any]) -> CatalogueEntry:
    hf = row["huggingface"]
    return CatalogueEntry(
        id=model_id,
        display_name=row["display_name"],
        parameters_billion=float(row["parameters_billion"]),
        native_context=int(row["context_length"]),
        architecture=Architecture(**row["architecture"]),
        hf_repo=hf["repo"],
        hf_revision=hf["revision"],
        gated=bool(hf.get("gated", False)),
        ollama_tag=(row.get("ollama") or {}).get("tag"),
        ollama_architecture=(row.get("ollama") or {}).get("architecture"),
        gguf=row.get("gguf"),
        onnx=row.get("onnx"),
        foundry_alias=row.get("foundry_alias"),
        model_type=hf["model_type"],
        custom_code=bool(hf["custom_code"]),
    )


@lru_cache(maxsize=1)
def catalogue() -> dict[str, CatalogueEntry]:
    """Load the catalogue shipped with the package, keyed by id."""
    text = resources.files("slm_deploy.spec").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return {model_id: _entry(model_id, row) for model_id, row in load_shipped(text)["models"].items()}
