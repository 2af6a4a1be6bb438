"""Per-runtime options, a discriminated union on `kind` so each runtime validates its own knobs."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, StringConstraints

from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.fields import ArgToken, EnvName, EnvValue, SafeText, SecretName
from slm_deploy.spec.images import PinnedImage

ParameterName = Annotated[str, StringConstraints(max_length=64)]
"""Checked against Ollama's own table of names, so a wrong one is told the names Ollama knows."""
ParameterValue = bool | int | float | str | list[str]
"""A Modelfile PARAMETER value (a list writes one line per item); which kind each name takes, and which texts the
Modelfile parser reads back unchanged, is checked against Ollama's own table and grammar."""


class _RuntimeCommon(SpecModel):
    image: PinnedImage | None = None
    """Override the runtime image (name:tag@sha256:...), e.g. from an internal mirror."""
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    """Extra non-secret environment: variables the pinned runtime reads that no rule refuses (docs/runtime-env.md)."""


WEIGHT_DTYPES = {"f16": "float16", "bf16": "bfloat16"}
"""vLLM's --dtype for the unquantised weight formats a spec may name in model.quantisation."""


class VllmOptions(_RuntimeCommon):
    """vLLM's OpenAI-compatible server (needs an NVIDIA GPU)."""

    kind: Literal["vllm"]
    gpu_memory_utilization: float | None = Field(default=None, ge=0.1, le=0.98)
    """Fraction of GPU memory vLLM may take; default 0.90, checked against the model's needs."""
    enable_prefix_caching: bool = True
    trust_remote_code: bool = False
    """Runs Python from the model repository; off unless the model needs it and it is reviewed."""
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    extra_args: list[ArgToken] = Field(default_factory=list)


class OpenWebUIOptions(SpecModel):
    """Open WebUI in front of Ollama, with its own login on and its session key from a secret."""

    enabled: bool = False
    image: PinnedImage | None = None
    secret_key_secret: SecretName = "webui-secret-key"
    """Secret (declared under `secrets`) holding WEBUI_SECRET_KEY."""
    api_key_secret: SecretName = "webui-api-key"
    """Secret (declared under `secrets`) holding the gateway API key Open WebUI presents (key id open-webui)."""
    port: int = Field(default=3000, ge=1024, le=65535)
    """Host and container port of the UI; must differ from exposure.port, which the gateway publishes."""


class ModelfileOptions(SpecModel):
    """A Modelfile variant created from the base model by a one-shot preparation step."""

    system_prompt: SafeText | None = None
    parameters: dict[ParameterName, ParameterValue] = Field(default_factory=dict)
    """Ollama PARAMETER lines (temperature, top_p, stop, ...); num_ctx comes from model.context_length."""


KEEP_ALIVE_LIMITS = {"": 9_223_372_036, "s": 9_223_372_036, "m": 153_722_867, "h": 2_562_047}
"""The largest keep_alive per unit that fits Go's time.Duration (int64 nanoseconds). Ollama (envconfig.KeepAlive)
reads OLLAMA_KEEP_ALIVE with time.ParseDuration, whose overflow error falls back to 5 minutes, or as whole
seconds with ParseInt, whose product with time.Second wraps around: either way a larger value is not kept."""


def keep_alive_fits(text: str) -> bool:
    """Whether Ollama keeps this keep_alive as written (-1 is forever)."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in ("s", "m", "h") else (text, "")
    digits, limit = number.lstrip("0") or "0", KEEP_ALIVE_LIMITS[unit]
    return text == "-1" or (len(digits) <= len(str(limit)) and int(digits) <= limit)


class OllamaOptions(_RuntimeCommon):
    """The Ollama server, with optional Open WebUI and a Modelfile variant."""

    kind: Literal["ollama"]
    keep_alive: Annotated[str, StringConstraints(pattern=r"^(-1|[0-9]+[smh]?)$")] = "24h"
    """How long Ollama keeps the model loaded: -1 (forever), or seconds, minutes or hours up to 2562047h."""
    max_loaded_models: int = Field(default=1, ge=1, le=16)
    flash_attention: bool = True
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] = "f16"
    open_webui: OpenWebUIOptions = Field(default_factory=OpenWebUIOptions.model_construct)
    modelfile: ModelfileOptions | None = None


class OnnxRuntimeOptions(_RuntimeCommon):
    """ONNX Runtime GenAI behind the OpenAI-compatible server this project ships."""

    kind: Literal["onnxruntime"]
    execution_provider: Literal["cpu", "cuda"] = "cpu"


class LlamaCppOptions(_RuntimeCommon):
    """llama.cpp's llama-server."""

    kind: Literal["llamacpp"]
    n_gpu_layers: Annotated[int, Field(ge=0, le=999)] | Literal["all"] | None = None
    """Layers offloaded to the GPU (needs resources.gpu); defaults to all with a GPU, 0 without."""
    flash_attn: Literal["auto", "on", "off"] = "auto"
    slots: bool = False
    """The /slots endpoint exposes prompts of running requests; off unless needed."""
    extra_args: list[ArgToken] = Field(default_factory=list)


class FoundryLocalOptions(_RuntimeCommon):
    """Foundry Local: a host service; container targets only with an explicit `image`."""

    kind: Literal["foundry-local"]
    port: int = Field(default=5273, ge=1024, le=65535)
    """Fixed service port (Foundry picks a dynamic one otherwise)."""


class MlxOptions(_RuntimeCommon):
    """mlx-lm's server on an Apple silicon Mac, behind the API-key gateway; weights converted on the host."""

    kind: Literal["mlx"]
    group_size: Literal[32, 64, 128] = 64
    """Weights per quantisation group when model.quantisation is int4 (mlx_lm.convert --q-group-size)."""


RuntimeOptions = Annotated[
    Union[VllmOptions, OllamaOptions, OnnxRuntimeOptions, LlamaCppOptions, FoundryLocalOptions, MlxOptions],
    Field(discriminator="kind"),
]
