"""--json always prints a JSON document, errors included, and malformed YAML is described in full words without
echoing the file's text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_failing_json_command_prints_the_error_as_json(command: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: svc\nmodel: {id: qwen3-1.7b}\nruntime: {kind: ollama}\nserving: {replicas: two}\n")
    result = run_cli(command, str(spec), "--json")
    assert result.code == 2 and "error: " in result.stderr
    (problem,) = json.loads(result.stdout)["error"]["problems"]
    assert problem["path"] == "serving.replicas" and problem["location"] == f"{spec}:4"
    assert "two" not in result.stdout, "the value is never printed back"


def test_check_quiet_json_still_prints_the_report(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: svc\nmodel: {id: qwen3-1.7b}\nruntime: {kind: ollama}\ntargets: {compose: {}}\n")
    assert run_cli("render", str(spec), "--out", str(tmp_path / "b"), "--quiet").code == 0
    result = run_cli("check", str(tmp_path / "b"), "--quiet", "--json")
    assert result.code == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)
    assert run_cli("check", str(tmp_path / "b"), "--quiet").stdout == ""


@pytest.mark.parametrize(("text", "said"), [
    ("name: [\n", "expected the node content, but found <stream end>"),
    ("{a: 1\n", "expected ',' or '}', but got <stream end>"),
    ("a: *secret-alias-name\n", "found undefined alias (not shown)"),
])
def test_malformed_yaml_is_said_in_full_without_the_file_text(text: str, said: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    result = run_cli("validate", str(spec))
    assert result.code == 2 and f"malformed YAML: {said}" in result.stderr
    assert "secret-alias-name" not in result.stderr
