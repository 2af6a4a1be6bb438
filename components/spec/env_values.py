"""Values of `runtime.env` variables the runtime parses as a number, a word from a list or an on/off switch,
checked as the runtime's interface record says it parses them: a value it would crash on at start, or silently
read as off, is refused at validate. Free-text variables have no record entry and take any EnvValue."""

from __future__ import annotations

from slm_deploy.spec.go_values import (
    GO_BOOL_WORDS,
    duration_or_seconds_fits,
    envconfig_text,
    parses_uint64,
    duration_at_least_a_second,
)
from slm_deploy.spec.runtime_records import record_of

OFF_WORDS = ("0", "false")
"""The off spellings next to a switch's on values; any other word is read as off without a word of warning."""


GO_KINDS = {
    "gobool": (lambda text: text in GO_BOOL_WORDS,
               "true or false (also 1, 0, t, f, TRUE, FALSE, True, False); Ollama reads any other text as true"),
    "uint64": (parses_uint64, "a whole number from 0 to 18446744073709551615, digits only (no unit or sign); "
                              "Ollama reads any other text as its default"),
    "duration": (duration_or_seconds_fits, "a Go duration such as 90s, 10m or 1h30m, or whole seconds, at most "
                                           "about 292 years; Ollama reads any other text as its default"),
}
"""Ollama's envconfig readers (the record's kinds for its variables): the check, and what is allowed."""


def _parses(parse: type, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


INT64_MAX = 2 ** 63 - 1
"""The largest count kept: timeouts and sizes reach time and C APIs that overflow beyond a 64-bit integer."""


AT_LEAST_ONE = "a whole number from 1 to {high}; "
BOUNDED_COUNTS = {
    "VLLM_ENGINE_READY_TIMEOUT_S": (1, INT64_MAX // 1000, (
        "a whole number of seconds from 1 to {high}; vLLM waits for its engine to start for the value times 1000 "
        "milliseconds (vllm/v1/engine/core_client.py), so 0 fails at once and a larger value overflows")),
    "VLLM_MEDIA_LOADING_THREAD_COUNT": (1, INT64_MAX, AT_LEAST_ONE + (
        "vLLM sizes its media-loading thread pool with it when the API server starts "
        "(vllm/multimodal/media/connector.py), and a pool of 0 workers stops the server")),
    "VLLM_V1_OUTPUT_PROC_CHUNK_SIZE": (1, INT64_MAX, AT_LEAST_ONE + (
        "vLLM steps through each batch of engine outputs in chunks of this size (vllm/v1/engine/async_llm.py), "
        "and a step of 0 fails the output handler, so every request fails")),
    "VLLM_MAX_N_SEQUENCES": (1, INT64_MAX, AT_LEAST_ONE + (
        "vLLM refuses a request for more sequences than this (vllm/sampling_params.py), so 0 refuses every request")),
    "VLLM_MAX_COMPLETION_PROMPTS": (1, INT64_MAX, AT_LEAST_ONE + (
        "/v1/completions refuses a list of more prompts than this (vllm/entrypoints/openai/completion/protocol.py), "
        "so 0 refuses every prompt list")),
    "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS": (1, INT64_MAX, AT_LEAST_ONE + (
        "with several GPUs vLLM gives each model step this many seconds (vllm/v1/executor/multiproc_executor.py), "
        "so 0 times out every step")),
}
"""Counts a reader outside envs.py narrows further: name -> (lowest, highest, what is allowed)."""


C_INT_MAX = 2 ** 31 - 1
"""The largest value C's atoi returns defined; beyond it the result is undefined."""
ATOI_KINDS = {
    "atoi-switch": (1, "0 (off) or 1 (on); llama.cpp reads it with C's atoi, which reads any text that does not start "
                       "with a number as 0, so the switch would stay off"),
    "atoi-count": (C_INT_MAX, f"a whole number from 0 to {C_INT_MAX}, digits only; llama.cpp reads it with C's atoi, "
                              "which reads text that does not start with a number as 0 and cuts off what follows one"),
}
"""Kinds of the variables llama.cpp reads with atoi: name -> (highest value, what is allowed)."""


def _int_within(text: str, low: int, high: int) -> bool:
    """Python's int(text) succeeds (spaces, a sign and _ separators allowed) and lands in low..high."""
    return _parses(int, text) and low <= int(text) <= high


NEVER_AT_ZERO = "duration-never-at-zero"
NEVER_AT_ZERO_ALLOWED = ("a Go duration of at least 1s such as 5m, or whole seconds from 1; Ollama reads 0 or a "
                         "negative value as no limit at all, so a stalled model load would never give up, and gives "
                         "up on every load that takes longer than a shorter one (no model loads in under a second)")
"""A duration reader that turns 0 or less into the largest duration (the record's kind for LoadTimeout)."""


LIBGOMP_WORDS = {"llamacpp": {"OMP_WAIT_POLICY": ("active", "passive")}}
"""Per runtime whose image links GNU libgomp: variables libgomp reads as one word, compared without case and
around white space; any other text is reported as invalid and the default is used."""


def _libgomp_refusal(runtime: str, name: str, value: str) -> str | None:
    words = LIBGOMP_WORDS.get(runtime, {}).get(name)
    if words is None or value.strip(" \t\n\v\f\r").lower() in words:
        return None
    return (f"one of {', '.join(words)} (any case); GNU libgomp, the OpenMP runtime llama.cpp's image links, reports "
            "any other value as invalid and uses its default")


def _choice_refusal(kind: str, value: str, listed: list[str]) -> str | None:
    """One listed word (choice) or comma-separated listed words (choice-list), compared without case for -nocase."""
    nocase = kind.endswith("-nocase")
    folded = value.lower() if nocase else value
    known = [word.lower() for word in listed] if nocase else listed
    if kind.startswith("choice-list"):
        given = [word.strip() for word in folded.split(",") if word.strip()]
        return None if all(word in known for word in given) else f"words from {', '.join(listed)}, separated by commas"
    return None if folded in known else "one of " + ", ".join(listed)


def value_refusal(runtime: str, name: str, value: str) -> str | None:
    """What `runtime` accepts for `name` when `value` is not it, or None when the value parses (or is free text)."""
    if (library := _libgomp_refusal(runtime, name, value)) is not None:
        return library
    kind, _, words = record_of(runtime).env_values.get(name, "").partition(":")
    listed = [word for word in words.split(",") if word]
    if kind == "int":
        return None if _parses(int, value) else "an integer, such as 0 or 1 for a switch"
    if kind == "int-switch":
        return None if _int_within(value, 0, 1) else "0 (off) or 1 (on); vLLM reads it as bool(int(value))"
    if kind == "count" and name in BOUNDED_COUNTS:
        low, high, allowed = BOUNDED_COUNTS[name]
        return None if _int_within(value, low, high) else allowed.format(high=high)
    if kind == "count":
        return None if _int_within(value, 0, INT64_MAX) else (
            f"a whole number from 0 to {INT64_MAX} (a timeout, size, count or port; its default is not negative "
            "and vLLM uses a negative one as given)")
    if kind in ATOI_KINDS:
        high, allowed = ATOI_KINDS[kind]
        return None if value.isascii() and value.isdigit() and int(value) <= high else allowed
    if kind == "float":
        return None if _parses(float, value) else "a number, such as 10 or 0.5"
    if kind.removesuffix("-nocase") in ("choice", "choice-list"):
        return _choice_refusal(kind, value, listed)
    if kind in GO_KINDS or kind == NEVER_AT_ZERO:
        text = envconfig_text(value)
        check, allowed = GO_KINDS["duration" if kind == NEVER_AT_ZERO else kind]
        if not check(text):
            return allowed
        return NEVER_AT_ZERO_ALLOWED if kind == NEVER_AT_ZERO and not duration_at_least_a_second(text) else None
    if kind in ("switch", "switch-nocase"):
        folded = value.strip().lower() if kind == "switch-nocase" else value
        accepted = listed + [word for word in OFF_WORDS if word == "0" or "true" in listed]
        return None if folded in accepted else "one of " + ", ".join(dict.fromkeys(accepted))
    return None
