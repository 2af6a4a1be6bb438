"""The interface record of the program each runtime kind runs, for the checks that accept only what it reads."""

from __future__ import annotations

from functools import cache

from slm_deploy.pins.interfaces import InterfaceRecord, load

RECORD_OF = {"vllm": "vllm", "ollama": "ollama", "llamacpp": "llamacpp", "onnxruntime": "ortgenai",
             "open-webui": "open-webui", "gateway": "gateway", "foundry-local": "foundry-local",
             "mlx": "mlx-lm-server", "mlx-convert": "mlx-lm-convert"}
"""Runtime kind (or plan runtime name) -> record id; the ONNX service runs this project's ortgenai server."""


@cache
def record_of(kind: str) -> InterfaceRecord:
    """The record of the program `kind` runs at its pinned version (shipped with the package)."""
    return load(RECORD_OF[kind])
