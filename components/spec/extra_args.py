"""The runtime flags `runtime.extra_args` may pass through, per runtime: one table, checked at load time.

Only tuning flags that slm-deploy does not set itself are listed. Flags it derives from the spec
(port, host, model, context and concurrency from the sizing) are refused so the sizing stays true,
and so are flags that weaken the deployment (--trust-remote-code, --api-key, --slots, verbose logs).
Each entry names the kind of value the flag takes, so a flag cannot smuggle a second flag in; a flag that
chooses a name the runtime registers (a parser, a built-in chat template) takes only the names its interface
record lists for the pinned version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slm_deploy.errors import Problem
from slm_deploy.spec.runtime_records import record_of


@dataclass(frozen=True)
class FlagValue:
    """What a pass-through flag takes after it; `accepts` is None for a switch that takes nothing."""

    allowed: str
    accepts: Callable[[str], bool] | None


def _number_in(text: str, low: float, high: float) -> bool:
    try:
        return low <= float(text) <= high
    except ValueError:
        return False


def choice(*values: str) -> FlagValue:
    """A flag that takes one of a fixed set of words."""
    return FlagValue("one of " + ", ".join(values), lambda text: text in values)


@dataclass(frozen=True)
class RecordedChoice:
    """A flag that takes a name the runtime registers at its pinned version, as its interface record lists them
    (vLLM's parser registries, llama.cpp's built-in chat templates); the record is read on first use."""

    runtime: str
    flag: str

    def names(self) -> frozenset[str]:
        return record_of(self.runtime).flag_values[self.flag]

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(sorted(self.names()))

    def accepts(self, text: str) -> bool:
        return text in self.names()


SWITCH = FlagValue("no value", None)
COUNT = FlagValue("a whole number from 1 to 1000000", lambda text: text.isdigit() and 0 < int(text) <= 1_000_000)
FRACTION = FlagValue("a number from 0 to 2", lambda text: _number_in(text, 0.0, 2.0))
PROBABILITY = FlagValue("a number from 0 to 1", lambda text: _number_in(text, 0.0, 1.0))
SEED = FlagValue("a whole number from 0 to 4294967295", lambda text: text.isdigit() and int(text) < 2**32)
"""vLLM seeds torch and NumPy, whose seeds are unsigned 32-bit."""
SEED_LLAMACPP = FlagValue("-1 (a random seed) or a whole number from 0 to 4294967295",
                          lambda text: text == "-1" or (text.isdigit() and int(text) < 2**32))
"""common/arg.cpp reads --seed into a uint32; -1 becomes LLAMA_DEFAULT_SEED, a random seed."""
KV_CACHE_LLAMACPP = choice("f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")
"""KV-cache types no larger than the f16 the sizing assumes."""

EXTRA_ARGS: dict[str, dict[str, FlagValue | RecordedChoice]] = {
    "vllm": {
        "--enable-chunked-prefill": SWITCH,
        "--no-enable-chunked-prefill": SWITCH,
        "--max-num-batched-tokens": COUNT,
        "--enforce-eager": SWITCH,
        "--block-size": choice("8", "16", "32", "64", "128"),
        "--kv-cache-dtype": choice("auto", "fp8", "fp8_e4m3", "fp8_e5m2"),
        "--seed": SEED,
        "--max-logprobs": COUNT,
        "--enable-auto-tool-choice": SWITCH,
        "--tool-call-parser": RecordedChoice("vllm", "--tool-call-parser"),
        "--reasoning-parser": RecordedChoice("vllm", "--reasoning-parser"),
    },
    "llamacpp": {
        "--batch-size": COUNT,
        "--ubatch-size": COUNT,
        "--threads-batch": COUNT,
        "--cache-type-k": KV_CACHE_LLAMACPP,
        "--cache-type-v": KV_CACHE_LLAMACPP,
        "--cache-reuse": COUNT,
        "--cont-batching": SWITCH,
        "--no-cont-batching": SWITCH,
        "--no-mmap": SWITCH,
        "--timeout": COUNT,
        "--seed": SEED_LLAMACPP,
        "--temp": FRACTION,
        "--top-k": COUNT,
        "--top-p": PROBABILITY,
        "--min-p": PROBABILITY,
        "--repeat-penalty": FRACTION,
        "--chat-template": RecordedChoice("llamacpp", "--chat-template"),
        "--reasoning-format": choice("none", "deepseek", "deepseek-legacy", "auto"),
    },
}
"""Runtime kind -> flag -> the value it takes. Runtimes missing here take no extra_args."""
INLINE_VALUES = {"vllm": True, "llamacpp": False}
"""Whether the runtime's parser reads `--flag=value` as one token: vLLM's argparse does; llama-server (common/arg.cpp
at the pinned build) looks the whole token up as a flag name and stops with "invalid argument"."""


def extra_args_problems(runtime: str, args: list[str]) -> list[Problem]:
    """One problem per pass-through token that is not an allowed flag with an allowed value."""
    table = EXTRA_ARGS.get(runtime, {})
    problems = []
    index = 0
    while index < len(args):
        path = f"runtime.extra_args[{index}]"
        flag, has_inline, inline = args[index].partition("=")
        value_kind = table.get(flag)
        if value_kind is None:
            problems.append(Problem(path, f"is not a flag slm-deploy passes through to {runtime}",
                                    allowed=", ".join(sorted(table)),
                                    hint="flags slm-deploy sets itself follow from the spec (context_length, "
                                         "concurrency, port, GPU); other flags are refused to keep the sizing "
                                         "and the hardening true"))
            index += 1
            continue
        if has_inline and not INLINE_VALUES.get(runtime, False):
            problems.append(Problem(path, f"{runtime} does not split --flag=value; it refuses the whole token",
                                    allowed="the flag and its value as two items, such as [--top-k, '40']"))
            index += 1
            continue
        if value_kind.accepts is None:
            valid, used = not has_inline, 1
        else:
            value = inline if has_inline else (args[index + 1] if index + 1 < len(args) else "")
            valid, used = value_kind.accepts(value), (1 if has_inline else 2)
        if not valid:
            problems.append(Problem(path, "has a value this flag does not accept", allowed=value_kind.allowed))
        index += used
    return problems
