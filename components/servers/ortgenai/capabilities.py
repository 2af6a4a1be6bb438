"""Which OpenAI parameter values this server can honour; any other value is refused with a 400 naming it.

A parameter whose value would change the reply in a way ONNX Runtime GenAI cannot produce here (tool calls,
token log probabilities, logit bias, presence and frequency penalties, several choices, audio, web search,
stored completions, reasoning effort) is refused unless the value asks for nothing (null, false, 0, empty,
or the default). Refusing beats answering 200 with a reply that quietly ignored what the client relied on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .schemas import ChatCompletionRequest


@dataclass(frozen=True)
class Unsupported:
    """A parameter this server cannot honour, and the values that ask for nothing it would have to do."""

    param: str
    asks_for_nothing: Callable[[Any], bool]
    reason: str


def _is_none(value: Any) -> bool:
    return value is None


def _is_none_or(*allowed: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or value in allowed


def _empty(value: Any) -> bool:
    return not value


def _all_zero(value: dict[str, int] | None) -> bool:
    return not value or all(bias == 0 for bias in value.values())


UNSUPPORTED = (
    Unsupported("n", _is_none_or(1), "this server returns one choice per request; send n=1 or leave it out"),
    Unsupported("tools", _empty, "tool calling is not supported by this server"),
    Unsupported("tool_choice", _is_none_or("none", "auto"),
                "tool calling is not supported by this server; only 'none' (or 'auto' without tools) is accepted"),
    Unsupported("functions", _empty, "function calling is not supported by this server"),
    Unsupported("function_call", _is_none_or("none", "auto"),
                "function calling is not supported by this server; only 'none' is accepted"),
    Unsupported("logprobs", _is_none_or(False), "token log probabilities are not returned by this server"),
    Unsupported("top_logprobs", _is_none_or(0), "token log probabilities are not returned by this server"),
    Unsupported("logit_bias", _all_zero, "logit bias is not supported by this server"),
    Unsupported("presence_penalty", _is_none_or(0), "presence penalty is not supported by this server; send 0"),
    Unsupported("frequency_penalty", _is_none_or(0), "frequency penalty is not supported by this server; send 0"),
    Unsupported("audio", _is_none, "audio output is not supported by this server"),
    Unsupported("modalities", lambda value: value is None or set(value) <= {"text"},
                "this server answers with text only"),
    Unsupported("web_search_options", _is_none, "web search is not supported by this server"),
    Unsupported("moderation", _is_none, "moderation is not supported by this server"),
    Unsupported("store", _is_none_or(False), "this server stores no completions"),
    Unsupported("reasoning_effort", _is_none, "reasoning effort cannot be set on this server"),
    Unsupported("verbosity", _is_none_or("medium"), "verbosity cannot be set on this server"),
    Unsupported("service_tier", _is_none_or("auto", "default"),
                "this server has one service tier; send 'auto' or 'default'"),
)


def first_unsupported(request: ChatCompletionRequest) -> tuple[str, str] | None:
    """(parameter, reason) for the first value this server cannot honour, or None when it can honour them all."""
    for rule in UNSUPPORTED:
        if not rule.asks_for_nothing(getattr(request, rule.param)):
            return rule.param, rule.reason
    if request.stream_options is not None and not request.streamed():
        return "stream_options", "stream_options is only allowed when stream is true"
    return None
