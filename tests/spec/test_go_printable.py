"""Which characters Ollama's Modelfile parser keeps is judged by Go's Unicode tables at the Go release the pinned
Ollama builds with (its go.mod, recorded in the ollama record), not by Python's older unicodedata."""

from __future__ import annotations

from pathlib import Path

import pytest
import unicodedata2
import yaml

from slm_deploy.spec.go_printable import derive, go_is_print, go_unicode_version, table_text, table_unicode_version
from slm_deploy.spec.runtime_records import record_of
from tests.spec.test_modelfile_stop import _ollama_spec
from tests.spec.test_spec_honesty import _refused
from tests.support.cli import run_in_process

SHAKING_FACE, KAWI_LETTER_A = "\U0001FAE8", "\U00011F04"
"""Assigned in Unicode 15.0 (a symbol and a letter): Go 1.21 and later print them; Python 3.11 (Unicode 14) does not."""
UNICODE_16_FACE = "\U0001FAE9"
"""Assigned in Unicode 16.0 (face with bags under eyes): unassigned to Go 1.26, whose parser drops it."""


def test_the_table_is_derived_at_the_unicode_version_of_ollamas_go() -> None:
    version = go_unicode_version(record_of("ollama").go_version)
    assert table_unicode_version() == version == unicodedata2.unidata_version
    shipped = Path("components/spec/go_printable.json").read_text(encoding="utf-8")
    assert shipped == table_text(derive(version)), "run python -m slm_deploy.spec.go_printable --write"


@pytest.mark.parametrize(("character", "printable"), [
    (SHAKING_FACE, True), (KAWI_LETTER_A, True), (UNICODE_16_FACE, False), (" ", True), ("\u00a0", False),
    ("\u00ad", False), ("\U000F0000", False), ("\u200b", False), ("a", True), ("\u00e9", True), ("\x7f", False),
])
def test_printable_follows_gos_tables(character: str, printable: bool) -> None:
    assert go_is_print(character) is printable


@pytest.mark.parametrize("stop", [f"<{SHAKING_FACE}>", [f"User {KAWI_LETTER_A}:"]])
def test_a_stop_string_with_characters_newer_than_pythons_unicode_renders(stop: object, tmp_path: Path) -> None:
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(yaml.safe_dump(_ollama_spec(stop), allow_unicode=True), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    written = next(out.rglob("Modelfile")).read_text(encoding="utf-8")
    assert (stop if isinstance(stop, str) else stop[0]) in written


def test_a_character_newer_than_gos_unicode_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, _ollama_spec([f"Canary{UNICODE_16_FACE}"]), "runtime.modelfile.parameters.stop[0]",
             "characters Ollama's Go (Unicode 15.0) does not know", echoed=("Canary",))
    assert "control, format and separator" not in run_in_process("validate", str(tmp_path / "spec.yaml")).stderr


def test_a_control_character_is_still_refused_as_one(tmp_path: Path) -> None:
    _refused(tmp_path, _ollama_spec(["Canary\u200b"]), "runtime.modelfile.parameters.stop[0]",
             "control, format and separator characters", echoed=("Canary",))
