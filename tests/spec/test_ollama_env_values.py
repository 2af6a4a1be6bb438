"""Ollama's typed environment variables take only values envconfig (at the pinned tag) reads as written: a value
its Go parser rejects would quietly become the default (Uint, durations) or true (Bool), so it is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.spec.go_values import duration_nanoseconds, duration_or_seconds_fits
from slm_deploy.spec.launch_env import allowed_names
from slm_deploy.spec.runtime_records import record_of
from tests.spec.test_spec_honesty import _refused, _runtime
from tests.support.cli import run_in_process

REFUSED = {
    "a Bool spelled no, which Ollama reads as true": ("OLLAMA_NO_CLOUD", "no", "Ollama reads any other text as true"),
    "a Bool spelled off": ("OLLAMA_SCHED_SPREAD", "off", "true or false"),
    "an empty Bool": ("OLLAMA_NEW_ENGINE", " ", "true or false"),
    "bytes with a unit": ("OLLAMA_GPU_OVERHEAD", "1GiB", "digits only"),
    "bytes beyond uint64": ("OLLAMA_GPU_OVERHEAD", "18446744073709551616", "digits only"),
    "a negative count": ("OLLAMA_GPU_OVERHEAD", "-1", "digits only"),
    "a duration beyond int64 nanoseconds": ("OLLAMA_LOAD_TIMEOUT", "2562048h", "292 years"),
    "seconds that wrap when multiplied": ("OLLAMA_LOAD_TIMEOUT", "9223372037", "292 years"),
    "a duration with a space": ("OLLAMA_LOAD_TIMEOUT", "5 m", "a Go duration"),
    "a unit Go does not know": ("OLLAMA_LOAD_TIMEOUT", "5min", "a Go duration"),
    "a zero timeout, read as none": ("OLLAMA_LOAD_TIMEOUT", "0", "no limit"),
    "a negative duration, read as none": ("OLLAMA_LOAD_TIMEOUT", "-5m", "no limit"),
    "zero seconds as a duration": ("OLLAMA_LOAD_TIMEOUT", "0s", "no limit"),
    "zero microseconds, Go's spelling": ("OLLAMA_LOAD_TIMEOUT", "0\u00b5s", "no limit"),
    "a nanosecond, which no model load meets": ("OLLAMA_LOAD_TIMEOUT", "1ns", "at least 1s"),
    "a microsecond, which no model load meets": ("OLLAMA_LOAD_TIMEOUT", "1\u00b5s", "no model loads in under"),
    "just under a second": ("OLLAMA_LOAD_TIMEOUT", "999ms", "at least 1s"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_value_ollama_would_quietly_replace_is_refused(case: str, tmp_path: Path) -> None:
    name, value, allowed = REFUSED[case]
    _refused(tmp_path, _on_a_gpu(_runtime("ollama", env={name: value})), f"runtime.env.{name}", "cannot parse",
             echoed=(value,) if len(value) >= 4 else ())  # shorter ones are common words
    assert allowed in run_in_process("validate", str(tmp_path / "spec.yaml")).stderr


def _on_a_gpu(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "resources": {"gpu": {"type": "nvidia-l4"}}}


@pytest.mark.parametrize("timeout", ["1h30m", "5000000\u00b5s", "5000000\u03bcs", "300", "1s", "1"])
def test_values_ollama_reads_as_written_render(timeout: str, tmp_path: Path) -> None:
    """Both micro signs are units of Go's time.ParseDuration (U+00B5 and U+03BC), so 5000000µs is a real timeout."""
    env = {"OLLAMA_SCHED_SPREAD": "0", "OLLAMA_NEW_ENGINE": "1", "OLLAMA_GPU_OVERHEAD": "536870912",
           "OLLAMA_LOAD_TIMEOUT": timeout, "OLLAMA_NO_CLOUD": " true "}
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(yaml.safe_dump(_on_a_gpu(_runtime("ollama", env=env)), allow_unicode=True), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    assert timeout in (out / "compose" / "compose.yaml").read_text(encoding="utf-8")


def test_the_never_at_zero_duration_kind_is_derived_from_envconfig() -> None:
    """LoadTimeout turns 0 or less into math.MaxInt64; KeepAlive does not (its 0 unloads at once)."""
    values = record_of("ollama").env_values
    assert values["OLLAMA_LOAD_TIMEOUT"] == "duration-never-at-zero" and values["OLLAMA_KEEP_ALIVE"] == "duration"


def test_variables_only_the_client_reads_are_recorded() -> None:
    """envconfig accessors whose every caller is in the interactive client (cmd/, x/imagegen/cli.go) or the app."""
    assert {"OLLAMA_NOHISTORY", "OLLAMA_EDITOR"} <= record_of("ollama").client_env
    assert not {"OLLAMA_NO_CLOUD", "OLLAMA_LOAD_TIMEOUT", "OLLAMA_GPU_OVERHEAD"} & record_of("ollama").client_env


def test_every_variable_runtime_env_accepts_for_ollama_has_its_parser_recorded() -> None:
    """Each accepted Ollama variable is typed in the record (derived from envconfig), so none escapes a check."""
    assert set(allowed_names("ollama")) <= set(record_of("ollama").env_values)


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("0", 0), ("+5m", 300 * 10 ** 9), ("-1.5h", -5400 * 10 ** 9), (".5s", 5 * 10 ** 8), ("5.s", 5 * 10 ** 9),
    ("1h2m3s4ms5us6ns", 3723004005006), ("1\u00b5s", 1000), ("9223372036854775807ns", 2 ** 63 - 1),
    ("-9223372036854775808ns", -(2 ** 63)), ("9223372036854775808ns", None), ("2562048h", None), ("", None),
    ("+", None), ("5", None), (".s", None), ("1e3s", None), ("5 m", None), ("3d", None),
])
def test_durations_are_read_as_gos_time_parse_duration_reads_them(text: str, nanoseconds: int | None) -> None:
    """Cases from the grammar and limits of time.ParseDuration (Go's time/format.go): units ns to h, an optional
    sign and fraction, a bare 0, and overflow past 1<<63 nanoseconds (allowed only for the negative limit)."""
    assert duration_nanoseconds(text) == nanoseconds


def test_whole_seconds_are_kept_only_while_their_nanoseconds_fit() -> None:
    assert duration_or_seconds_fits("9223372036") and duration_or_seconds_fits("-9223372036")
    assert not duration_or_seconds_fits("9223372037") and not duration_or_seconds_fits("1_000")
