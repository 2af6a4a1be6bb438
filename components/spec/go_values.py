"""How Go's standard library reads the environment values Ollama parses (envconfig at the pinned tag): a value the
parser rejects makes Ollama quietly use a default (or, for a Bool, true), so validation must read it the same way."""

from __future__ import annotations

GO_BOOL_WORDS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
"""strconv.ParseBool's spellings."""
UINT64_MAX = 2 ** 64 - 1
INT64_MAX = 2 ** 63 - 1
OVERFLOW = 2 ** 63
"""time.ParseDuration's accumulator limit: 1<<63 nanoseconds (only a negative duration may reach it)."""
DURATION_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 10 ** 9,
                  "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
WHOLE_SECONDS_LIMIT = INT64_MAX // 10 ** 9
"""The largest whole-second count whose product with time.Second still fits an int64."""


def envconfig_text(value: str) -> str:
    """envconfig.Var: the value with surrounding white space, then double and single quotes, removed."""
    return value.strip().strip("\"'")


def parses_uint64(text: str) -> bool:
    """strconv.ParseUint(text, 10, 64): decimal digits only, at most 2^64-1."""
    return text.isascii() and text.isdigit() and int(text) <= UINT64_MAX


def parses_int64(text: str) -> bool:
    """strconv.ParseInt(text, 10, 64): an optional sign, decimal digits, within int64."""
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit() and -OVERFLOW <= int(text) <= INT64_MAX


def _leading_int(text: str) -> tuple[int, str] | None:
    value, index = 0, 0
    while index < len(text) and "0" <= text[index] <= "9":
        if value > OVERFLOW // 10:
            return None
        value = value * 10 + int(text[index])
        if value > OVERFLOW:
            return None
        index += 1
    return value, text[index:]


def _leading_fraction(text: str) -> tuple[int, float, str]:
    value, scale, index, overflow = 0, 1.0, 0, False
    while index < len(text) and "0" <= text[index] <= "9":
        if not overflow:
            grown = value * 10 + int(text[index])
            overflow = value > INT64_MAX // 10 or grown > OVERFLOW
            if not overflow:
                value, scale = grown, scale * 10
        index += 1
    return value, scale, text[index:]


def duration_nanoseconds(text: str) -> int | None:
    """time.ParseDuration: the duration in nanoseconds, or None where Go returns an error (syntax or overflow)."""
    negative = text[:1] == "-"
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return 0
    if not rest:
        return None
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            return None
        length = len(rest)
        leading = _leading_int(rest)
        if leading is None:
            return None
        whole, rest = leading
        had_whole, had_fraction, fraction, scale = length != len(rest), False, 0, 1.0
        if rest[:1] == ".":
            rest = rest[1:]
            length = len(rest)
            fraction, scale, rest = _leading_fraction(rest)
            had_fraction = length != len(rest)
        if not had_whole and not had_fraction:
            return None
        end = next((i for i, ch in enumerate(rest) if ch == "." or "0" <= ch <= "9"), len(rest))
        unit = DURATION_UNITS.get(rest[:end])
        rest = rest[end:]
        if unit is None or whole > OVERFLOW // unit:
            return None
        component = whole * unit + (int(fraction * (unit / scale)) if fraction else 0)
        total += component
        if component > OVERFLOW or total > OVERFLOW:
            return None
    if not negative and total > INT64_MAX:
        return None
    return -total if negative else total


def duration_or_seconds_fits(text: str) -> bool:
    """Ollama's duration readers: a Go duration, else whole seconds that do not wrap when multiplied by 10^9."""
    if duration_nanoseconds(text) is not None:
        return True
    return parses_int64(text) and abs(int(text)) <= WHOLE_SECONDS_LIMIT


SECOND_NS = 10 ** 9


def duration_at_least_a_second(text: str) -> bool:
    """Whether Ollama's duration reader gets one second or more from `text` (a Go duration or whole seconds)."""
    nanoseconds = duration_nanoseconds(text)
    if nanoseconds is None:
        return parses_int64(text) and 1 <= int(text) <= WHOLE_SECONDS_LIMIT
    return nanoseconds >= SECOND_NS
