"""Which model preparations can work: the format a runtime serves, the builder's precision and provider pairs."""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.catalogue import CatalogueEntry, catalogue
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.model_section import GgufPreparation, ModelSource, OnnxPreparation, Quantisation
from slm_deploy.spec.runtime_options import OnnxRuntimeOptions

PREPARED_RUNTIME = {"gguf": "llamacpp", "onnx": "onnxruntime"}
"""The runtime that serves each prepared format."""
REFUSAL_HINTS = {
    "vllm": "vLLM serves the Hugging Face checkpoint itself: remove model.prepare",
    "ollama": "Ollama imports no prepared file here: prepare gguf and serve it with runtime.kind llamacpp",
    "foundry-local": "Foundry Local serves its own catalogue builds: remove model.prepare",
    "mlx": "the MLX host converts with mlx_lm.convert itself: remove model.prepare, set model.quantisation",
}
ONNX_BUILDS = {"cpu": ("int4", "fp32"), "cuda": ("int4", "fp16", "fp32")}
"""Precisions onnxruntime_genai.models.builder 0.18 builds per provider the server loads (its list of valid pairs:
FP32 CPU, FP32 CUDA, FP16 CUDA, INT4 CPU, INT4 CUDA, among others for providers the server does not run)."""
PREPARED_QUANTISATION = {
    "q4_k_m": Quantisation.Q4_K_M, "q8_0": Quantisation.Q8_0, "f16": Quantisation.F16, "bf16": Quantisation.BF16,
    "int4": Quantisation.INT4, "fp16": Quantisation.F16, "fp32": Quantisation.F32,
}


def prepared_quantisation(prepare: GgufPreparation | OnnxPreparation) -> Quantisation:
    """The weight format the prepared model has, which sizing counts."""
    if isinstance(prepare, GgufPreparation):
        return PREPARED_QUANTISATION[prepare.quantization]
    return PREPARED_QUANTISATION[prepare.precision]


def served_execution_provider(spec: DeploymentSpec) -> str:
    """The provider the ONNX server loads the model with."""
    return spec.runtime.execution_provider if isinstance(spec.runtime, OnnxRuntimeOptions) else "cpu"


def onnx_execution_provider(prepare: OnnxPreparation, spec: DeploymentSpec) -> str:
    """The provider the model is built for: the spec's, else the one the server runs."""
    return prepare.execution_provider or served_execution_provider(spec)


def preparation_problems(spec: DeploymentSpec, source: ModelSource) -> list[Problem]:
    """Every reason the spec's model.prepare cannot produce what its runtime serves."""
    prepare, runtime = spec.model.prepare, spec.runtime.kind
    if prepare is None:
        return []
    problems = []
    if source.kind != "huggingface":
        problems.append(Problem("model.source.kind", "model.prepare converts a Hugging Face checkpoint",
                                allowed="huggingface (repo and revision)"))
    if spec.model.quantisation is not None:
        problems.append(Problem("model.quantisation", "is set by model.prepare (the prepared weight format)",
                                allowed="no value beside model.prepare",
                                hint="choose model.prepare.quantization (gguf) or model.prepare.precision (onnx)"))
    if runtime in REFUSAL_HINTS:
        problems.append(Problem("model.prepare", f"{runtime} serves no prepared model",
                                allowed="model.prepare with runtime.kind llamacpp (gguf) or onnxruntime (onnx)",
                                hint=REFUSAL_HINTS[runtime]))
    elif PREPARED_RUNTIME[prepare.format] != runtime:
        problems.append(Problem("model.prepare.format", f"{runtime} cannot serve a prepared {prepare.format} model",
                                allowed=next(f for f, r in PREPARED_RUNTIME.items() if r == runtime)))
    elif isinstance(prepare, OnnxPreparation):
        served = served_execution_provider(spec)
        provider = onnx_execution_provider(prepare, spec)
        if provider != served:
            problems.append(Problem("model.prepare.execution_provider",
                                    f"differs from runtime.execution_provider ({served}), which loads the model",
                                    allowed=served))
        elif prepare.precision not in ONNX_BUILDS[provider]:
            problems.append(Problem("model.prepare.precision",
                                    f"the model builder makes no {prepare.precision} model for the {provider} provider",
                                    allowed=", ".join(ONNX_BUILDS[provider])))
    return problems


def custom_code_problems(entry: CatalogueEntry) -> list[Problem]:
    """A catalogue checkpoint that names code of its own can never be prepared: the conversion step refuses it."""
    if not entry.custom_code:
        return []
    preparable = sorted(e.id for e in catalogue().values() if not e.custom_code)
    return [Problem("model.prepare", "this model's checkpoint names code of its own (auto_map in config.json), which "
                                     "model preparation never runs",
                    allowed="model.prepare for catalogue ids whose checkpoints transformers loads without their own "
                            "code: " + ", ".join(preparable),
                    hint="remove model.prepare and serve a published GGUF or ONNX build of it")]
