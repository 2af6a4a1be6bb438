"""What model to serve: a catalogue id or an explicit, pinned source."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import Field, StringConstraints

from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.fields import HfRepo, SecretName
from slm_deploy.spec.ollama_names import OllamaName

GitRevision = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]


class Quantisation(str, Enum):
    """Weight formats the sizing knows the bytes per weight of."""

    F16 = "f16"
    BF16 = "bf16"
    Q8_0 = "q8_0"
    Q4_K_M = "q4_k_m"
    AWQ = "awq"
    GPTQ = "gptq"
    INT4 = "int4"
    F32 = "f32"


class Architecture(SpecModel):
    """The attention shape that sets the KV-cache size per token."""

    layers: int = Field(ge=1, le=256)
    kv_heads: int = Field(ge=1, le=256)
    head_dim: int = Field(ge=8, le=1024)


class HuggingFaceSource(SpecModel):
    """Safetensors weights from a Hugging Face repository at a fixed commit (vLLM)."""

    kind: Literal["huggingface"]
    repo: HfRepo
    revision: GitRevision
    """The 40-character commit sha; branch names move, so they are refused."""


class OllamaSource(SpecModel):
    """A model from the Ollama library or an hf.co GGUF repository, by tag (Ollama)."""

    kind: Literal["ollama"]
    tag: OllamaName


class GgufSource(SpecModel):
    """One GGUF file from a Hugging Face repository, pinned by commit, by checksum, or both (llama.cpp)."""

    kind: Literal["gguf"]
    repo: HfRepo
    file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*\.gguf$")]
    revision: GitRevision | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    """The file's checksum; verified after download, so a moved branch cannot change the weights."""


class OnnxSource(SpecModel):
    """An ONNX Runtime GenAI model folder, from a pinned repository or a local directory."""

    kind: Literal["onnx"]
    repo: HfRepo | None = None
    revision: GitRevision | None = None
    path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")]
    """Sub-folder in the repository, or a local directory when no repo is given: an absolute path strictly inside a
    data root (/srv, /data, /mnt or /opt/models), without `..` or hidden steps such as .ssh (Compose only)."""


class FoundrySource(SpecModel):
    """A Foundry Local catalogue alias (Foundry Local picks the variant for the device)."""

    kind: Literal["foundry"]
    alias: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$")]


ModelSource = Annotated[
    Union[HuggingFaceSource, OllamaSource, GgufSource, OnnxSource, FoundrySource],
    Field(discriminator="kind"),
]


class GgufPreparation(SpecModel):
    """Convert the Hugging Face checkpoint with llama.cpp's converter and quantise it with llama-quantize (llama.cpp)."""

    format: Literal["gguf"]
    quantization: Literal["q4_k_m", "q8_0", "f16", "bf16"] = "q4_k_m"
    """The GGUF weight type: f16 and bf16 are the converter's own output, q8_0 and q4_k_m are quantised from f16."""


class OnnxPreparation(SpecModel):
    """Build an ONNX Runtime GenAI model folder with onnxruntime_genai.models.builder (ONNX Runtime)."""

    format: Literal["onnx"]
    precision: Literal["int4", "fp16", "fp32"] = "int4"
    """The builder's precision; fp16 needs the cuda execution provider, as the builder states at the pinned version."""
    execution_provider: Literal["cpu", "cuda"] | None = None
    """The provider the model is built for; defaults to runtime.execution_provider and must equal it."""


Preparation = Annotated[Union[GgufPreparation, OnnxPreparation], Field(discriminator="format")]


class ModelSpec(SpecModel):
    """Either `id` (a catalogue entry) or `source` with the facts sizing needs."""

    id: str | None = None
    """A catalogue id such as phi-4-mini-instruct or qwen3-1.7b."""
    source: ModelSource | None = None
    parameters_billion: float | None = Field(default=None, gt=0.01, le=30)
    """Needed with `source` (except Foundry Local on a host, which sizes nothing), refused beside `id` (the entry
    has it): parameter count in billions (sizing and tier)."""
    architecture: Architecture | None = None
    """With `source`, for an exact KV-cache estimate (a conservative default otherwise); refused beside `id`."""
    native_context: int | None = Field(default=None, ge=256, le=1_048_576)
    """With `source`: the longest context the model supports; refused beside `id`, whose entry records it."""
    quantisation: Quantisation | None = None
    """Weight format; defaults per runtime (vLLM bf16, Ollama/llama.cpp q4_k_m, ONNX int4; f32 is an fp32 ONNX model)."""
    context_length: int | None = Field(default=None, ge=256, le=1_048_576)
    """Context window to serve per request; defaults to min(native context, 8192)."""
    prepare: Preparation | None = None
    """Convert a Hugging Face checkpoint (`source: {kind: huggingface}` or a catalogue `id`) before serving: gguf for
    llama.cpp, onnx for ONNX Runtime; the prepared weight format sets the sizing, so `quantisation` is refused."""
    hub_token_secret: SecretName | None = None
    """Secret (declared under `secrets`) holding a Hugging Face token, for gated models downloaded from a repository."""
