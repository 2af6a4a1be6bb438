"""The PARAMETER names a Modelfile may set, with the values Ollama takes for each: the Go type of its Options and
Runner fields (api/types.go at the pinned tag, recorded in the ollama interface record), which FormatParams
parses with ParseInt(64 bits), ParseFloat(32 bits) or ParseBool, narrowed where the sampler would silently
change the value (sample/samplers.go clamps a negative temperature to 0 and top_p, min_p into 0..1;
sample/transforms.go treats a top_k of 0 or below as off, and one at or above the vocabulary keeps every token just
as 0 does; ml/backend/ggml passes num_thread to ggml as a C int). num_gpu is bounded by the model's layers where the
deployment is known (slm_deploy.spec.flag_combinations)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from slm_deploy.errors import Problem
from slm_deploy.spec.modelfile_quoting import unrepresentable

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
FLOAT32_MAX = 3.4028234663852886e38
C_INT_MAX = 2 ** 31 - 1
LARGEST_VOCABULARY = 262_208
"""Gemma 3's vocabulary (config.json vocab_size), the largest of the catalogue's families: a larger top_k keeps
every token of any model, the same as 0 (off)."""


KIND_TEXT = {"int": "an integer", "float32": "a number", "*bool": "true or false",
             "[]string": "text or a list of texts"}


@dataclass(frozen=True)
class ValueRange:
    """The Go type a parameter is parsed as and, for numbers, the closed range Ollama honours."""

    go_type: str
    low: float = -math.inf
    high: float = math.inf

    @property
    def kind(self) -> str:
        return KIND_TEXT[self.go_type]

    def bounds(self) -> tuple[float, float]:
        """The range after the type's own limits (int64, finite float32)."""
        limit_low, limit_high = (INT64_MIN, INT64_MAX) if self.go_type == "int" else (-FLOAT32_MAX, FLOAT32_MAX)
        return max(self.low, limit_low), min(self.high, limit_high)

    @property
    def allowed(self) -> str:
        if self.go_type not in ("int", "float32"):
            return self.kind
        low, high = self.bounds()
        return f"{self.kind} from {_shown(low)} to {_shown(high)}"

    def has_type(self, value: object) -> bool:
        if self.go_type == "*bool":
            return isinstance(value, bool)
        if self.go_type == "[]string":
            return isinstance(value, str) or isinstance(value, list) and all(isinstance(item, str) for item in value)
        if isinstance(value, (str, list)):
            return False
        return not isinstance(value, bool) and isinstance(value, int if self.go_type == "int" else (int, float))

    def in_range(self, value: object) -> bool:
        """Whether a value of the right type is one Ollama parses and keeps as given."""
        if self.go_type not in ("int", "float32") or not isinstance(value, (int, float)):
            return True
        low, high = self.bounds()
        return (self.go_type == "int" or math.isfinite(value)) and low <= value <= high


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 2 ** 64 else f"{bound:.7g}"


INT, FLOAT32 = ValueRange("int"), ValueRange("float32")
PROBABILITY = ValueRange("float32", 0.0, 1.0)
OLLAMA_PARAMETERS = {
    "num_keep": INT, "seed": INT, "num_predict": INT, "top_k": ValueRange("int", 0, LARGEST_VOCABULARY), "top_p": PROBABILITY,
    "min_p": PROBABILITY, "typical_p": FLOAT32, "repeat_last_n": INT, "temperature": ValueRange("float32", 0.0),
    "repeat_penalty": FLOAT32, "presence_penalty": FLOAT32, "frequency_penalty": FLOAT32,
    "stop": ValueRange("[]string"), "num_ctx": INT, "num_batch": INT, "num_gpu": INT, "main_gpu": INT,
    "use_mmap": ValueRange("*bool"), "num_thread": ValueRange("int", 0, C_INT_MAX),
}
"""Name -> the values Ollama takes for it (the record's Go type, and the sampler's range where it clamps)."""
MAX_TEXTS, MAX_TEXT_LENGTH = 32, 256
"""Most texts a list parameter takes, and longest text: far beyond any chat template's stop markers."""
SPEC_OWNED = {"num_ctx": "model.context_length"}
"""Parameters slm-deploy writes itself from a spec field; Ollama keeps the first PARAMETER line of a name."""


def parameter_problems(parameters: Mapping[str, object]) -> list[Problem]:
    """One problem per parameter Ollama would refuse or silently change, or that a spec field already sets."""
    problems = []
    for name, value in parameters.items():
        path = f"runtime.modelfile.parameters.{name}"
        kind = OLLAMA_PARAMETERS.get(name)
        if kind is None:
            problems.append(Problem(path, "is not a parameter Ollama knows", allowed=", ".join(sorted(OLLAMA_PARAMETERS))))
        elif name in SPEC_OWNED:
            problems.append(Problem(path, f"is set from {SPEC_OWNED[name]}",
                                    allowed=f"set {SPEC_OWNED[name]} instead",
                                    hint="Ollama keeps the first PARAMETER line of a name, which slm-deploy writes"))
        elif not kind.has_type(value):
            problems.append(Problem(path, f"must be {kind.kind} for this parameter", allowed=kind.allowed))
        elif not kind.in_range(value):
            problems.append(Problem(path, "is outside the range Ollama parses or keeps for this parameter",
                                    allowed=kind.allowed))
        else:
            problems += _text_problems(path, value)
    return problems


def _text_problems(path: str, value: object) -> list[Problem]:
    """Texts the Modelfile parser would change or cut short, each named by its position in a list."""
    if isinstance(value, str):
        items = [(path, value)]
    else:
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)] if isinstance(value, list) else []
    if isinstance(value, list) and not 1 <= len(value) <= MAX_TEXTS:
        return [Problem(path, "must list at least one text, and at most a few dozen", allowed=f"1 to {MAX_TEXTS} texts")]
    problems = []
    for where, item in items:
        if not 1 <= len(item) <= MAX_TEXT_LENGTH:
            problems.append(Problem(where, "must not be empty (an empty stop string matches every text) or longer "
                                    "than any stop marker", allowed=f"1 to {MAX_TEXT_LENGTH} characters"))
        elif reason := unrepresentable(item):
            problems.append(Problem(where, f"contains {reason}",
                                    allowed="printable text, spaces, tabs and line breaks"))
    return problems


def system_prompt_problems(prompt: str | None) -> list[Problem]:
    """A SYSTEM prompt is written in triple quotes; characters the Modelfile parser drops would change it."""
    reason = unrepresentable(prompt) if prompt else None
    return [Problem("runtime.modelfile.system_prompt", f"contains {reason}",
                    allowed="printable text, spaces and tabs")] if reason else []
