"""Modelfile stop strings: ordinary ones (chat-template tokens, blank lines, quotes, spaces, several at once) are
written so Ollama's Modelfile parser reads each back unchanged; only texts its grammar cannot carry are refused.

The judge is tests/support/modelfile_reader.py, Ollama's ParseFile state machine restated from parser/parser.go at
the pinned tag (Ollama's own Go parser cannot be built here; that module says why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings, strategies as st

from slm_deploy.runtimes.ollama import modelfile_text
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.modelfile_quoting import quoted_value
from tests.spec.test_spec_honesty import _modelfile, _refused
from tests.support.cli import run_in_process
from tests.support.modelfile_reader import ModelfileError, parameters, read_commands

ORDINARY_STOPS = ["<|im_end|>", "\n\n", "### User: ", 'say "stop"', "<|eot_id|>", " ", '"', '"quoted"',
                  "User:\n", "\tindented", '""', 'a"\nb']
TRICKY_TEXT = st.text(alphabet=st.sampled_from(['"', "\n", "\r", " ", "\t", "a", "<", "|", "#", "\u00e9"]),
                      min_size=1, max_size=12)


def _read_back(written: str) -> list[str] | None:
    """The stop list the parser reads from one PARAMETER stop line, or None where it refuses the file."""
    try:
        return parameters(f"FROM qwen3:1.7b\nPARAMETER stop {written}\nPARAMETER temperature 0.5\n").get("stop")
    except ModelfileError:
        return None


@settings(max_examples=400, deadline=None)
@given(text=TRICKY_TEXT | st.text(min_size=1, max_size=8))
@example(text='a"""\nb')
@example(text='""\n')
@example(text="\x00")
def test_a_written_stop_string_reads_back_unchanged_and_only_unwritable_ones_are_refused(text: str) -> None:
    written = quoted_value(text)
    if written is not None:
        assert _read_back(written) == [text]
    else:
        # The grammar has no escapes: plain, "..." and """...""" are every form a value can take.
        assert all(_read_back(form) != [text] for form in (text, f'"{text}"', f'"""{text}"""'))


def _ollama_spec(stop: Any) -> dict[str, Any]:
    spec = _modelfile({"stop": stop, "temperature": 0.2})
    spec["model"] = {"source": {"kind": "ollama", "tag": "qwen3:1.7b"}, "parameters_billion": 1.7}
    return spec


@pytest.mark.parametrize("stop", [ORDINARY_STOPS, ["<|im_end|>"], "<|im_end|>", "\n\n", "### User: "])
def test_ordinary_stop_strings_validate_and_reach_the_modelfile(stop: Any, tmp_path: Path) -> None:
    import yaml

    spec = _ollama_spec(stop)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 0, result.stderr
    read = parameters(modelfile_text(parse_deployment(spec)) or "")
    assert read["stop"] == (stop if isinstance(stop, list) else [stop])
    assert read["temperature"] == ["0.2"] and read["num_ctx"] == ["8192"]


@pytest.mark.parametrize(("stop", "field", "words"), [
    (["<|im_end|>", "Canary\x00token"], "stop[1]", "characters Ollama's Modelfile parser drops"),
    ("Canary\u202etoken", "stop", "characters Ollama's Modelfile parser drops"),
    (["Canary\u200btoken"], "stop[0]", "characters Ollama's Modelfile parser drops"),
    (['Canary"""\ntoken'], "stop[0]", "three double quotes"),
])
def test_stop_strings_the_parser_would_change_are_refused_by_name_and_position(stop: Any, field: str, words: str,
                                                                              tmp_path: Path) -> None:
    _refused(tmp_path, _ollama_spec(stop), field, words, echoed=("Canary", "token"))


@pytest.mark.parametrize("stop", ["", [], [""]])
def test_empty_stop_strings_are_refused_as_every_text_contains_one(stop: Any, tmp_path: Path) -> None:
    _refused(tmp_path, _ollama_spec(stop), "runtime.modelfile.parameters", "must")


@pytest.mark.parametrize(("value", "words"), [(["0.5"], "must be a number"),
                                              ([0.5], "is not a value this field takes (got a list)")])
def test_a_list_is_refused_once_for_a_parameter_that_takes_one_number(value: Any, words: str, tmp_path: Path) -> None:
    _refused(tmp_path, _modelfile({"temperature": value}), "runtime.modelfile.parameters", words)


def test_the_example_stacks_modelfile_reads_back_its_stop_strings() -> None:
    modelfile = Path("tests/golden/ollama-webui-compose/docker/assistant/Modelfile").read_text(encoding="utf-8")
    read = parameters(modelfile)
    assert read["stop"] == ["<|eot_id|>", "\n\nUser:"]
    assert read["num_ctx"] == ["8192"] and read["temperature"] == ["0.3"]


@pytest.mark.parametrize("character", ["\u00a0", "\u200c", "\u3000"])  # no-break space, joiner, ideographic space
def test_a_system_prompt_with_a_character_the_parser_drops_is_refused(character: str, tmp_path: Path) -> None:
    spec = _ollama_spec("END")
    spec["runtime"]["modelfile"]["system_prompt"] = f"Canary{character}token"  # not printable for Go
    _refused(tmp_path, spec, "runtime.modelfile.system_prompt", "characters Ollama's Modelfile parser drops",
             echoed=("Canary",))


def test_a_system_prompt_reads_back_unchanged() -> None:
    spec = _ollama_spec(["<|im_end|>"])
    spec["runtime"]["modelfile"]["system_prompt"] = ' Answer in "one" line.\t'
    commands = dict(read_commands(modelfile_text(parse_deployment(spec)) or ""))
    assert commands["system"] == ' Answer in "one" line.\t'
