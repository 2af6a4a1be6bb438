"""Turn the spec's model section into one concrete, pinned source for the chosen runtime."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from slm_deploy.errors import Problem, SpecError
from slm_deploy.spec.catalogue import CatalogueEntry, catalogue
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.idle_fields import host_only
from slm_deploy.spec.mlx_models import mlx_supports, mlx_unsupported
from slm_deploy.spec.model_section import (
    Architecture,
    FoundrySource,
    GgufSource,
    HuggingFaceSource,
    ModelSource,
    OllamaSource,
    OnnxSource,
    Preparation,
    Quantisation,
)
from slm_deploy.spec.preparation import custom_code_problems, preparation_problems, prepared_quantisation

Q = Quantisation
SOURCE_KIND_FOR_RUNTIME = {
    "vllm": "huggingface",
    "ollama": "ollama",
    "llamacpp": "gguf",
    "onnxruntime": "onnx",
    "foundry-local": "foundry",
    "mlx": "huggingface",
}
QUANTISATIONS_FOR_RUNTIME = {
    "vllm": (Q.BF16, Q.F16, Q.AWQ, Q.GPTQ),
    "ollama": (Q.Q4_K_M, Q.Q8_0, Q.F16),
    "llamacpp": (Q.Q4_K_M, Q.Q8_0, Q.F16, Q.BF16),
    "onnxruntime": (Q.INT4, Q.F16, Q.F32),
    "foundry-local": (Q.INT4,),
    "mlx": (Q.INT4, Q.BF16, Q.F16),
}
CATALOGUE_QUANTISATION = {"ollama": Q.Q4_K_M, "llamacpp": Q.Q4_K_M, "onnxruntime": Q.INT4, "foundry-local": Q.INT4}
"""The weight format of the catalogue's non-Hugging-Face sources (its Ollama tags, GGUF files, ONNX builds)."""
DEFAULT_CONTEXT = 8192
FALLBACK_ARCHITECTURE = Architecture.model_construct(layers=36, kv_heads=8, head_dim=128)
"""Used when an explicit source gives no architecture: as large as any catalogue model up to 8B."""


@dataclass(frozen=True)
class ResolvedModel:
    """The model as the runtime will load it, with the facts sizing needs."""

    id: str
    display_name: str
    parameters_billion: float
    native_context: int
    architecture: Architecture
    quantisation: Quantisation
    context_length: int
    source: ModelSource
    gated: bool
    from_catalogue: bool
    prepare: Preparation | None = None
    """How the Hugging Face `source` is converted before serving (then `quantisation` is the prepared format)."""

    @property
    def served_name(self) -> str:
        """The name clients put in the `model` field of their requests."""
        return self.id


def _catalogue_source(entry: CatalogueEntry, runtime: str) -> ModelSource | None:
    if runtime == "vllm" or (runtime == "mlx" and mlx_supports(entry.model_type)):
        return HuggingFaceSource(kind="huggingface", repo=entry.hf_repo, revision=entry.hf_revision)
    if runtime == "ollama" and entry.ollama_tag:
        return OllamaSource(kind="ollama", tag=entry.ollama_tag)
    if runtime == "llamacpp" and entry.gguf and (entry.gguf.get("revision") or entry.gguf.get("sha256")):
        return GgufSource(kind="gguf", repo=entry.gguf["repo"], file=entry.gguf["file"],
                          revision=entry.gguf.get("revision"), sha256=entry.gguf.get("sha256"))
    if runtime == "onnxruntime" and entry.onnx and entry.onnx.get("revision"):
        return OnnxSource(kind="onnx", repo=entry.onnx["repo"], revision=entry.onnx["revision"], path=entry.onnx["path"])
    if runtime == "foundry-local" and entry.foundry_alias:
        return FoundrySource(kind="foundry", alias=entry.foundry_alias)
    return None


def _unknown_model(model_id: str) -> Problem:
    known = sorted(catalogue())
    close = difflib.get_close_matches(model_id, known, n=1)
    return Problem(
        "model.id",
        "is not in the catalogue",
        allowed=", ".join(known),
        hint=f"did you mean {close[0]!r}?" if close else "or give model.source with a pinned revision",
    )


def _check_quantisation(runtime: str, quant: Quantisation, from_catalogue: bool) -> list[Problem]:
    allowed = QUANTISATIONS_FOR_RUNTIME[runtime]
    if quant not in allowed:
        return [Problem("model.quantisation", f"{runtime} cannot serve {quant.value} weights",
                        allowed=", ".join(q.value for q in allowed))]
    pinned = CATALOGUE_QUANTISATION.get(runtime)
    if from_catalogue and pinned and quant != pinned:
        return [Problem("model.quantisation", f"the catalogue's {runtime} source is {pinned.value}",
                        allowed=pinned.value,
                        hint=f"for {quant.value}, give model.source with the file or tag of that format")]
    if from_catalogue and runtime == "vllm" and quant in (Q.AWQ, Q.GPTQ):
        return [Problem("model.quantisation", "catalogue repositories hold unquantised weights",
                        allowed="bf16, f16", hint="for awq/gptq, give model.source naming a quantised repository")]
    return []


def hub_token_required(entry: CatalogueEntry, runtime: str) -> bool:
    """vLLM and the MLX conversion download the model's own Hugging Face repository, which a gated model opens
    only to a token; the catalogue's GGUF, ONNX and Ollama sources are public copies."""
    return entry.gated and runtime in ("vllm", "mlx")


def resolve_model(spec: DeploymentSpec) -> ResolvedModel:
    """Resolve the model for the spec's runtime, or raise a SpecError naming the field."""
    model, runtime = spec.model, spec.runtime.kind
    if (model.id is None) == (model.source is None):
        raise SpecError(Problem("model", "give exactly one of id or source",
                                allowed="id: <catalogue id> | source: {kind: ...}"))
    prepare = model.prepare
    quant = prepared_quantisation(prepare) if prepare else model.quantisation or QUANTISATIONS_FOR_RUNTIME[runtime][0]
    source: ModelSource
    if model.id is not None:
        entry = catalogue().get(model.id)
        if entry is None:
            raise SpecError(_unknown_model(model.id))
        pinned = _catalogue_source(entry, "vllm" if prepare else runtime)
        if pinned is None and runtime == "mlx":
            raise SpecError(mlx_unsupported(entry))
        if pinned is None:
            offered = sorted(e.id for e in catalogue().values() if _catalogue_source(e, runtime) is not None)
            raise SpecError(Problem("model.id", f"the catalogue has no pinned {runtime} source for this model",
                                    allowed=f"catalogue ids that have a {runtime} source: " + ", ".join(offered),
                                    hint="give model.source with a pinned source for this runtime"))
        source = pinned
        problems = (preparation_problems(spec, source) + custom_code_problems(entry) if prepare
                    else _check_quantisation(runtime, quant, from_catalogue=True))
        if hub_token_required(entry, "vllm" if prepare else runtime) and not model.hub_token_secret:
            problems.append(Problem("model.hub_token_secret", f"{entry.display_name} is gated on Hugging Face",
                                    allowed="the name of a secret holding a token whose account accepted the licence",
                                    hint="add model.hub_token_secret: hf-token and secrets: {hf-token: {...}}"))
        params, native, arch = entry.parameters_billion, entry.native_context, entry.architecture
        display, gated, model_id = entry.display_name, entry.gated, entry.id
    elif model.source is not None:  # one of id and source, as checked above
        source = model.source
        problems = []
        expected = SOURCE_KIND_FOR_RUNTIME[runtime]
        if prepare:
            problems += preparation_problems(spec, source)
        elif source.kind != expected:
            problems.append(Problem("model.source.kind", f"{runtime} cannot load a {source.kind} source",
                                    allowed=expected))
        if isinstance(source, GgufSource) and not (source.revision or source.sha256):
            problems.append(Problem("model.source.revision", "a GGUF file must be pinned",
                                    allowed="revision: <40-character commit sha>, or sha256: <the file's checksum>"))
        if isinstance(source, OnnxSource) and source.repo and not source.revision:
            problems.append(Problem("model.source.revision", "a repository source needs a pinned revision",
                                    allowed="a 40-character commit sha"))
        if model.parameters_billion is None and not host_only(spec):
            problems.append(Problem("model.parameters_billion", "required with model.source (sizing needs it)",
                                    allowed="a number of billions, e.g. 3.8"))
        if not prepare:
            problems += _check_quantisation(runtime, quant, from_catalogue=False)
        params = model.parameters_billion or 0.0
        native = model.native_context or (model.context_length or DEFAULT_CONTEXT)
        arch = model.architecture or FALLBACK_ARCHITECTURE
        model_id = _source_id(source)
        display, gated = model_id, False
    context = model.context_length or min(native, DEFAULT_CONTEXT)
    if context > native:
        problems.append(Problem("model.context_length", "exceeds the model's native context",
                                allowed=f"256 to {native}" if model.id is not None else "256 to model.native_context"))
    if problems:
        raise SpecError(problems)
    return ResolvedModel(model_id, display, params, native, arch, quant, context, source, gated,
                         from_catalogue=model.id is not None, prepare=prepare)


def _source_id(source: ModelSource) -> str:
    """A served-model name derived from an explicit source."""
    if isinstance(source, HuggingFaceSource):
        return source.repo.split("/")[-1].lower()
    if isinstance(source, OllamaSource):
        return source.tag
    if isinstance(source, GgufSource):
        return source.file.removesuffix(".gguf").lower()
    if isinstance(source, OnnxSource):
        return source.path.rstrip("/").split("/")[-1].lower()
    return source.alias
