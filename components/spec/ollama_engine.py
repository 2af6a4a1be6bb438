"""Modelfile parameters Ollama's own engine never reads, refused for the models it runs there.

Ollama runs a model on its own engine (runner/ollamarunner) when the model's architecture is on the record's
engine_required list, or when OLLAMA_NEW_ENGINE is on and the engine implements the architecture; that engine's
sampler reads temperature, top_k, top_p, min_p and seed only, so the penalties, typical_p and use_mmap (read by the
llama.cpp runner alone) would be accepted and do nothing. The architecture is known for catalogue models.
"""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.go_values import GO_BOOL_WORDS, envconfig_text
from slm_deploy.spec.runtime_records import record_of

NEW_ENGINE_ENV = "OLLAMA_NEW_ENGINE"
GO_TRUE_WORDS = GO_BOOL_WORDS[:6]
"""strconv.ParseBool's spellings of true."""


def model_architecture(spec: DeploymentSpec) -> str | None:
    """The GGUF architecture of the Ollama library model the spec serves, where the catalogue records it."""
    tag = getattr(spec.model.source, "tag", None)
    for model_id, entry in catalogue().items():
        if model_id == spec.model.id or (tag is not None and entry.ollama_tag == tag):
            return entry.ollama_architecture
    return None


def runs_on_ollama_engine(spec: DeploymentSpec, architecture: str) -> bool:
    """Whether Ollama loads this architecture with its own engine (llm/server.go NewLlamaServer)."""
    record = record_of("ollama")
    asked = envconfig_text(spec.runtime.env.get(NEW_ENGINE_ENV, "")) in GO_TRUE_WORDS
    return architecture in record.engine_required or (asked and architecture in record.engine_models)


def engine_parameter_problems(spec: DeploymentSpec) -> list[Problem]:
    """One problem per Modelfile parameter the engine that runs the model ignores."""
    modelfile = getattr(spec.runtime, "modelfile", None)
    architecture = model_architecture(spec)
    if spec.runtime.kind != "ollama" or modelfile is None or architecture is None:
        return []
    if not runs_on_ollama_engine(spec, architecture):
        return []
    record = record_of("ollama")
    ignored = record.engine_ignored_parameters
    read = ", ".join(sorted(set(record.parameters) - ignored))
    return [Problem(f"runtime.modelfile.parameters.{name}",
                    f"is ignored for this model: Ollama {record.version} runs {architecture} models on its own engine, "
                    "whose runner and sampler never read it (only the llama.cpp runner does), so it would do nothing",
                    allowed=f"parameters that engine reads: {read}", hint="remove it")
            for name in modelfile.parameters if name in ignored]
