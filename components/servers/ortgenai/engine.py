"""The model and its token-by-token generation: blocking ONNX Runtime GenAI calls, run off the event loop."""

from __future__ import annotations

import enum
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .config import Settings
from .prompts import PromptRenderer

log = logging.getLogger(__name__)

TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"


def opt_out_of_onnxruntime_telemetry() -> None:
    """Keep ONNX Runtime from uploading usage events and writing a device id under HOME.

    ONNX Runtime (1.29+) and ONNX Runtime GenAI read the switch once, when first loaded, so this must run
    before they are imported. An operator who sets ORT_DISABLE_TELEMETRY=0 keeps telemetry on.
    """
    os.environ.setdefault(TELEMETRY_SWITCH, "1")


class EngineState(str, enum.Enum):
    """Where the model is in its life: /health answers 200 only when READY."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class PromptTooLongError(ValueError):
    """The prompt leaves no room in the model's context for even one generated token."""

    def __init__(self, prompt_tokens: int, context_length: int) -> None:
        super().__init__(
            f"the prompt has {prompt_tokens} tokens; the model's context holds {context_length}, "
            "leaving no room for the reply"
        )
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length


class PromptRejectedError(ValueError):
    """The chat template refused the conversation (for example a role it does not know)."""


class OutputSchemaError(ValueError):
    """The JSON schema given in response_format cannot be turned into a grammar for constrained decoding."""


@dataclass(frozen=True)
class Sampling:
    """How one request wants tokens chosen; None keeps the model's own default from genai_config.json."""

    max_new_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    output_schema: dict | None = None
    """JSON schema the reply must match (constrained decoding), or None for free text."""

    def search_options(self, max_length: int) -> dict[str, object]:
        """Options for GeneratorParams: temperature 0 (or top_p 0) is greedy, any other given value samples."""
        options: dict[str, object] = {"max_length": max_length}
        if self.temperature == 0 or self.top_p == 0:
            options["do_sample"] = False
        elif self.temperature is not None or self.top_p is not None:
            options["do_sample"] = True
            if self.temperature is not None:
                options["temperature"] = self.temperature
            if self.top_p is not None:
                options["top_p"] = self.top_p
        if self.seed is not None:
            options["random_seed"] = engine_seed(self.seed)
        return options


ENGINE_SEED_RANGE = 2**31
"""ONNX Runtime GenAI takes a non-negative 32-bit signed seed (-1 means a random one)."""


def engine_seed(seed: int) -> int:
    """Fold any 64-bit seed the OpenAI API allows into the engine's range; equal seeds stay equal."""
    return seed % ENGINE_SEED_RANGE


@dataclass(frozen=True)
class Step:
    """One generated token's text and whether generation ended with it."""

    text: str
    done: bool


class GenerationSession:
    """One request's generator; call `step` repeatedly from a worker thread until it reports done."""

    def __init__(self, generator, token_stream, prompt_tokens: int, max_new_tokens: int, eos_ids) -> None:
        self._generator = generator
        self._stream = token_stream
        self._eos_ids = frozenset(int(token) for token in eos_ids)
        self.prompt_tokens = prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.completion_tokens = 0
        self.finish_reason: str | None = None

    def step(self) -> Step:
        """Generate one token (blocking native work) and return its decoded text."""
        generator, token_stream = self._generator, self._stream
        if self.finish_reason is not None or generator is None:
            return Step("", True)
        generator.generate_next_token()
        token = int(generator.get_next_tokens()[0])
        self.completion_tokens += 1
        if token in self._eos_ids:
            self.finish_reason = "stop"
            return Step("", True)
        text = token_stream.decode(token)
        if self.completion_tokens >= self.max_new_tokens or generator.is_done():
            self.finish_reason = "length"
            return Step(text, True)
        return Step(text, False)

    def stop_early(self) -> None:
        """Mark the output as ended by a stop sequence."""
        self.finish_reason = "stop"

    def close(self) -> None:
        """Free the generator's native buffers (KV cache) as soon as the request ends."""
        self._generator = None
        self._stream = None


@dataclass(frozen=True)
class _Loaded:
    """What a finished load holds: the onnxruntime_genai module (imported only then), model, tokenizer, renderer."""

    og: Any
    model: Any
    tokenizer: Any
    renderer: PromptRenderer


class Engine:
    """Loads one ONNX Runtime GenAI model and starts generation sessions on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = EngineState.LOADING
        self.error: str | None = None
        self.load_seconds: float | None = None
        self.context_length = 0
        self.prompt_source = ""
        self._loaded: _Loaded | None = None

    def load(self) -> None:
        """Load model, tokenizer and chat template (blocking; seconds to minutes for real models)."""
        started = time.perf_counter()
        try:
            self._load()
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            self.state = EngineState.FAILED
            log.error("model failed to load from %s: %s", self.settings.model_dir, self.error)
            raise
        self.load_seconds = time.perf_counter() - started
        self.state = EngineState.READY
        log.info(
            "model %s loaded in %.2fs (provider %s, context %d, prompt format from %s)",
            self.settings.model_name, self.load_seconds, self.settings.execution_provider,
            self.context_length, self.prompt_source,
        )

    def _load(self) -> None:
        opt_out_of_onnxruntime_telemetry()
        import onnxruntime_genai as og

        if os.environ[TELEMETRY_SWITCH] == "1":
            og.disable_telemetry_events()

        model_dir = self.settings.model_dir
        genai_config = json.loads((model_dir / "genai_config.json").read_text(encoding="utf-8"))
        self.context_length = int(genai_config["model"]["context_length"])
        config = og.Config(str(model_dir))
        config.clear_providers()
        if self.settings.execution_provider != "cpu":
            config.append_provider(self.settings.execution_provider)
        model = og.Model(config)
        tokenizer = og.Tokenizer(model)
        renderer = PromptRenderer(tokenizer, _read_template(self.settings.chat_template_file))
        self.prompt_source = renderer.source
        self._loaded = _Loaded(og, model, tokenizer, renderer)

    @property
    def _ready(self) -> _Loaded:
        """The loaded model, or the error a request gets while it is loading or after it failed."""
        if self.state is not EngineState.READY or self._loaded is None:
            raise RuntimeError("the model is not loaded")
        return self._loaded

    def start(self, messages: Sequence[dict[str, str]], sampling: Sampling) -> GenerationSession:
        """Render and encode the prompt, then run the prompt through the model (blocking)."""
        loaded = self._ready
        prompt_ids = _encode(loaded, messages)
        prompt_tokens = len(prompt_ids)
        room = self.context_length - prompt_tokens
        if room < 1:
            raise PromptTooLongError(prompt_tokens, self.context_length)
        max_new_tokens = min(sampling.max_new_tokens, room)
        params = loaded.og.GeneratorParams(loaded.model)
        params.set_search_options(**sampling.search_options(prompt_tokens + max_new_tokens))
        generator = _generator(loaded, params, sampling.output_schema)
        generator.append_tokens(prompt_ids)
        return GenerationSession(
            generator, loaded.tokenizer.create_stream(), prompt_tokens, max_new_tokens,
            loaded.tokenizer.eos_token_ids,
        )


def _generator(loaded: _Loaded, params: Any, output_schema: dict | None) -> Any:
    """A generator, constrained by the llguidance grammar of `output_schema` when one is given."""
    if output_schema is None:
        return loaded.og.Generator(loaded.model, params)
    try:
        params.set_guidance("json_schema", json.dumps(output_schema))
        return loaded.og.Generator(loaded.model, params)
    except (RuntimeError, ValueError, RecursionError) as error:
        raise OutputSchemaError(f"the JSON schema cannot be used for constrained decoding: {_short(error)}") from None


def _encode(loaded: _Loaded, messages: Sequence[dict[str, str]]) -> Any:
    try:
        prompt = loaded.renderer.render(messages)
    except RuntimeError as error:
        raise PromptRejectedError(f"the model's chat template cannot render these messages: {_short(error)}") from None
    return loaded.tokenizer.encode(prompt)


def _short(error: Exception, limit: int = 300) -> str:
    """An engine error's message, cut to a length fit for a client's error body."""
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "..."


def _read_template(path: Path | None) -> str | None:
    """The override template's text, if one is configured."""
    if path is None:
        return None
    return path.read_text(encoding="utf-8")
