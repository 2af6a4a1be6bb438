"""What each serving runtime offers its clients, declared once: smoke tests, bench and the README read it here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from slm_deploy.runtimes.common import options_of
from slm_deploy.runtimes.ollama import served_alias
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.runtime_options import VllmOptions

VLLM_TOOL_FLAGS = ("--enable-auto-tool-choice", "--tool-call-parser")
RESIDENT_MEMORY = "process_resident_memory_bytes"


@dataclass(frozen=True)
class RuntimeCapabilities:
    """The client-visible features of one runtime as slm-deploy launches it."""

    tool_calls: bool
    tool_calls_note: str
    """Why tool calls are (not) available, shown when smoke skips or runs the check."""
    native_api: Literal["ollama"] | None
    memory_metric: str | None
    """The Prometheus series on the runtime's own /metrics that holds its resident memory, if any."""


_DECLARED: dict[str, RuntimeCapabilities] = {
    "ollama": RuntimeCapabilities(
        tool_calls=True, tool_calls_note="Ollama answers `tools` for models whose template declares them",
        native_api="ollama", memory_metric=None),
    "llamacpp": RuntimeCapabilities(
        tool_calls=True, tool_calls_note="llama-server runs with --jinja, which parses tool calls",
        native_api=None, memory_metric=None),
    "onnxruntime": RuntimeCapabilities(
        tool_calls=False, tool_calls_note="the ONNX Runtime GenAI server refuses `tools`",
        native_api=None, memory_metric=RESIDENT_MEMORY),
    "foundry-local": RuntimeCapabilities(
        tool_calls=False, tool_calls_note="Foundry Local's tool calling depends on the model and is not checked",
        native_api=None, memory_metric=None),
    "mlx": RuntimeCapabilities(
        tool_calls=False, tool_calls_note="mlx_lm.server's tool calling depends on the model's parser and is not checked",
        native_api=None, memory_metric=None),
}


def _vllm(deployment: Deployment) -> RuntimeCapabilities:
    """vLLM parses tool calls only when started with --enable-auto-tool-choice and a --tool-call-parser."""
    args = set(options_of(deployment, VllmOptions).extra_args)
    enabled = all(any(a == flag or a.startswith(f"{flag}=") for a in args) for flag in VLLM_TOOL_FLAGS)
    note = ("runtime.extra_args turn on vLLM's tool-call parser" if enabled else
            "vLLM parses tool calls only with --enable-auto-tool-choice and --tool-call-parser in runtime.extra_args")
    return RuntimeCapabilities(tool_calls=enabled, tool_calls_note=note, native_api=None,
                               memory_metric=RESIDENT_MEMORY)


def capabilities(deployment: Deployment) -> RuntimeCapabilities:
    """The capabilities of the spec's runtime, with the spec's own switches applied."""
    kind = deployment.spec.runtime.kind
    return _vllm(deployment) if kind == "vllm" else _DECLARED[kind]


def client_model_name(deployment: Deployment) -> str:
    """What clients put in the `model` field: Ollama's tag or Modelfile variant, else the served name."""
    if deployment.spec.runtime.kind == "ollama":
        return served_alias(deployment)
    return deployment.model.served_name
