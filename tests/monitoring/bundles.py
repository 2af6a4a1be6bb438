"""Bundles whose monitoring the tests judge: the example stacks, the Kubernetes cases, and a matrix of every
runtime with and without the gateway, so every raw metric name goes through the rules."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import load_deployment, parse_deployment
from tests.conftest import STACKS, stack_id
from tests.render.kubernetes_cases import CASES, case_id

RUNTIMES = {
    "vllm": {"runtime": {"kind": "vllm"}, "model": {"id": "phi-4-mini-instruct", "context_length": 4096},
             "resources": {"cpu": 8, "gpu": {"count": 1, "type": "nvidia-a100-80gb"}}},
    "llamacpp": {"runtime": {"kind": "llamacpp"}, "model": {"id": "qwen3-1.7b", "context_length": 4096},
                 "resources": {"cpu": 4}},
    "onnxruntime": {"runtime": {"kind": "onnxruntime", "execution_provider": "cpu"},
                    "model": {"id": "phi-4-mini-instruct", "quantisation": "int4", "context_length": 4096},
                    "resources": {"cpu": 4}},
    "ollama": {"runtime": {"kind": "ollama"}, "model": {"id": "llama-3.2-3b-instruct", "context_length": 4096},
               "resources": {"cpu": 4}},
}


def matrix_spec(runtime: str, gated: bool, **extra) -> dict:
    """A spec for one runtime, gateway on or off, Compose and Kubernetes targets, monitoring on."""
    spec = {"name": f"{runtime}-{'gw' if gated else 'direct'}", **RUNTIMES[runtime],
            "serving": {"concurrency": 2, "auth": {"enabled": gated}},
            "targets": {"docker": {"registry": "registry.example.com"}, "compose": {}, "kubernetes": {}},
            "secrets": {"api-keys": {"backend": "kubernetes"}} if gated else {}}
    spec.update(extra)
    return spec


MATRIX = [(runtime, gated) for runtime in RUNTIMES for gated in (True, False)]


def matrix_id(entry: tuple[str, bool]) -> str:
    return f"{entry[0]}-{'gateway' if entry[1] else 'direct'}"


@lru_cache(maxsize=None)
def files_of_matrix(runtime: str, gated: bool) -> dict[str, str]:
    return render_bundle(parse_deployment(matrix_spec(runtime, gated))).files


@lru_cache(maxsize=None)
def files_of_path(path: Path) -> dict[str, str]:
    return render_bundle(load_deployment(path)).files


def every_bundle() -> list[tuple[str, dict[str, str]]]:
    """(id, files) of every bundle that has monitoring."""
    found = [(f"stack-{stack_id(s)}", files_of_path(s)) for s in STACKS]
    found += [(f"case-{case_id(c)}", files_of_path(c)) for c in CASES if c not in STACKS]
    found += [(f"matrix-{matrix_id(m)}", files_of_matrix(*m)) for m in MATRIX]
    return [(name, files) for name, files in found if any(p.startswith("monitoring/") for p in files)]


def write(files: dict[str, str], root: Path, prefix: str = "") -> Path:
    """Write the files under `prefix` to a folder, as `render` lays them out."""
    for path, text in files.items():
        if path.startswith(prefix):
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return root
