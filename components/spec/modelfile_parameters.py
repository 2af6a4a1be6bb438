"""The PARAMETER names a Modelfile may set, with the value each takes: Ollama's Options and Runner structs
(api/types.go at the pinned v0.24.0), which its FormatParams reads, refusing unknown names and bad values."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.errors import Problem

INTEGER, NUMBER, BOOLEAN, TEXT = "an integer", "a number", "true or false", "text"
OLLAMA_PARAMETERS = {
    "num_keep": INTEGER, "seed": INTEGER, "num_predict": INTEGER, "top_k": INTEGER, "top_p": NUMBER,
    "min_p": NUMBER, "typical_p": NUMBER, "repeat_last_n": INTEGER, "temperature": NUMBER,
    "repeat_penalty": NUMBER, "presence_penalty": NUMBER, "frequency_penalty": NUMBER, "stop": TEXT,
    "num_ctx": INTEGER, "num_batch": INTEGER, "num_gpu": INTEGER, "main_gpu": INTEGER, "use_mmap": BOOLEAN,
    "num_thread": INTEGER,
}
"""Name -> the kind of value Ollama parses it as (Go int, float32, *bool, []string)."""
SPEC_OWNED = {"num_ctx": "model.context_length"}
"""Parameters slm-deploy writes itself from a spec field; Ollama keeps the first PARAMETER line of a name."""


def _fits(kind: str, value: object) -> bool:
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, str)


def parameter_problems(parameters: Mapping[str, object]) -> list[Problem]:
    """One problem per parameter Ollama would refuse, or that a spec field already sets."""
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
        elif not _fits(kind, value):
            problems.append(Problem(path, f"must be {kind} for this parameter", allowed=kind))
    return problems
