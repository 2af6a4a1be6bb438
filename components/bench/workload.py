"""What each benchmark request asks for: prompt and output lengths drawn from the chosen distributions."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

from slm_deploy.errors import SlmDeployError

# Short, common English words: one token each in the byte-level BPE vocabularies small models use.
WORDS = ("the", "sea", "wind", "light", "stone", "river", "cloud", "tree", "bird", "road", "field", "rain", "fire",
         "snow", "hill", "star", "moon", "sun", "leaf", "sand", "wave", "salt", "iron", "gold", "bread", "milk",
         "door", "wall", "town", "ship")
PATTERNS = {
    "fixed": re.compile(r"^(?P<a>\d+)$"),
    "uniform": re.compile(r"^uniform:(?P<a>\d+)-(?P<b>\d+)$"),
    "normal": re.compile(r"^normal:(?P<a>\d+(?:\.\d+)?),(?P<b>\d+(?:\.\d+)?)$"),
}
MAX_TOKENS = 131072


class WorkloadError(SlmDeployError):
    """A length distribution that cannot be parsed; names the option and the accepted forms."""


@dataclass(frozen=True)
class LengthDistribution:
    """Token counts: fixed N, uniform between A and B, or normal with a mean and deviation (at least 1)."""

    kind: Literal["fixed", "uniform", "normal"]
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> int:
        """One length, clamped to 1..MAX_TOKENS."""
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.randint(int(self.a), int(self.b))
        else:
            value = round(rng.gauss(self.a, self.b))
        return int(min(max(value, 1), MAX_TOKENS))

    def describe(self) -> str:
        """The form it was given in, for reports."""
        if self.kind == "fixed":
            return f"{self.a:g}"
        separator = "-" if self.kind == "uniform" else ","
        return f"{self.kind}:{self.a:g}{separator}{self.b:g}"


def parse_lengths(option: str, text: str) -> LengthDistribution:
    """`128`, `uniform:64-256` or `normal:128,32`."""
    for kind, pattern in PATTERNS.items():
        match = pattern.match(text.strip())
        if match:
            a, b = float(match["a"]), float(match.groupdict().get("b") or 0)
            if (kind == "uniform" and not 1 <= a <= b) or a < 1 or a > MAX_TOKENS or b > MAX_TOKENS:
                break
            return LengthDistribution(kind, a, b)  # type: ignore[arg-type]
    raise WorkloadError(f"{option}: not a length distribution\n"
                        f"  allowed: N, uniform:A-B (1 <= A <= B), normal:MEAN,SD (token counts up to {MAX_TOKENS})")


@dataclass(frozen=True)
class RequestShape:
    """One request's prompt text and output budget."""

    prompt: str
    prompt_words: int
    max_tokens: int


def request_shape(rng: random.Random, prompt: LengthDistribution, output: LengthDistribution) -> RequestShape:
    """A prompt of about the drawn number of tokens (one word each) and the drawn output budget."""
    words = prompt.sample(rng)
    text = "Continue this list: " + " ".join(rng.choice(WORDS) for _ in range(words))
    return RequestShape(text, words, output.sample(rng))
