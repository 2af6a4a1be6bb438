"""What render, check and validate tell the user: a summary by default, nothing with --quiet, JSON with --json,
and on bad input one message on stderr naming the file and line, exit 2, stdout untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slm_deploy import __version__
from tests.conftest import ROOT, run_cli

SPEC = ROOT / "stacks" / "Pulumi.qwen3-llamacpp-edge.yaml"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "bundle"
    assert run_cli("render", str(SPEC), "--out", str(out), "--quiet").code == 0
    return out


def test_version() -> None:
    result = run_cli("--version")
    assert (result.code, result.stdout.strip()) == (0, f"slm-deploy {__version__}")


def test_render_summarises_files_written_per_part(tmp_path: Path) -> None:
    result = run_cli("render", str(SPEC), "--out", str(tmp_path / "b"))
    assert result.code == 0, result.stderr
    written = [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    lines = result.stdout.splitlines()
    assert lines[0] == f"rendered qwen3-edge: {len(written)} files in {tmp_path / 'b'}"
    compose = sum(1 for p in written if p.relative_to(tmp_path / "b").parts[0] == "compose")
    assert f"  compose/: {compose}" in lines and lines[-1] == f"next: slm-deploy check {tmp_path / 'b'}"


def test_render_json_lists_every_file(tmp_path: Path) -> None:
    result = run_cli("render", str(SPEC), "--out", str(tmp_path / "b"), "--json")
    summary = json.loads(result.stdout)
    on_disk = sorted(str(p.relative_to(tmp_path / "b")) for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert summary["files"] == on_disk and summary["files_written"] == len(on_disk)
    assert summary["name"] == "qwen3-edge" and sum(summary["by_part"].values()) == len(on_disk)


def test_render_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run_cli("render", str(SPEC), "--out", str(tmp_path / "b"), "--quiet")
    assert (result.code, result.stdout, result.stderr) == (0, "", "")
    assert (tmp_path / "b" / "manifest.json").is_file()


def test_validate_quiet_and_summary() -> None:
    quiet = run_cli("validate", str(SPEC), "--quiet")
    assert (quiet.code, quiet.stdout) == (0, "")
    loud = run_cli("validate", str(SPEC), str(ROOT / "stacks" / "Pulumi.foundry-windows.yaml"))
    assert loud.code == 0 and "2 spec(s) valid" in loud.stdout and "qwen3-edge" in loud.stdout


def test_check_json_and_quiet(bundle: Path) -> None:
    as_json = run_cli("check", str(bundle), "--json")
    report = json.loads(as_json.stdout)
    assert as_json.code == 0 and report == json.loads(run_cli("check", str(bundle), "--format", "json").stdout)
    quiet = run_cli("check", str(bundle), "--quiet")
    assert (quiet.code, quiet.stdout) == (0, "")


def test_check_quiet_still_fails_on_findings(bundle: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    compose = broken / "compose" / "compose.yaml"
    compose.write_text(compose.read_text().replace("read_only: true", "read_only: false"))
    result = run_cli("check", str(broken), "--quiet")
    assert result.code in (1, 2) and result.stdout == ""


def test_check_json_with_sarif_is_one_clear_error(bundle: Path) -> None:
    result = run_cli("check", str(bundle), "--json", "--format", "sarif")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --json") and "Traceback" not in result.stderr


@pytest.mark.parametrize("options", [["validate", "--json"], ["render", "--json"], ["render", "--quiet"]])
def test_bad_input_points_at_the_line_even_with_json(options: list[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: svc\nmodel:\n  id: qwen3-1.7b\nruntime:\n  kind: llamacpp\n"
                    "serving:\n  replicas: hf_pasted_token_value\n")
    out = ["--out", str(tmp_path / "b")] if options[0] == "render" else []
    result = run_cli(options[0], str(spec), *options[1:], *out)
    assert result.code == 2 and result.stdout == ""
    assert f"{spec}:7" in result.stderr and "serving.replicas" in result.stderr
    assert "hf_pasted_token_value" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_schema_stack_wraps_the_spec() -> None:
    stack = json.loads(run_cli("schema", "--stack").stdout)
    spec = json.loads(run_cli("schema").stdout)
    assert stack["properties"]["config"]["properties"]["slm-deploy:deployment"]["properties"] == spec["properties"]
    assert stack["$defs"] == spec["$defs"]


@pytest.mark.parametrize(("text", "line"), [
    ("name: svc\nmodel:\n  id: qwen3-1.7b\n runtime: [\n", 4),                                  # malformed YAML
    ("name: svc\nmodel:\n  id: qwen3-1.7b\nruntime:\n  kind: llamacpp\nmy_secret_key: 1\n", 6),  # unknown key
    ("name: svc\nmodel:\n  id: qwen3-1.7b\nruntime:\n  kind: llamacpp\ntargets:\n  kubernetes: {}\n", 6),  # cross-field
], ids=["syntax", "unknown-key", "cross-field"])
def test_every_kind_of_error_names_the_line(text: str, line: int, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    result = run_cli("validate", str(spec), "--json")
    assert result.code == 2 and result.stdout == "" and result.stderr.startswith(f"error: {spec}:{line}")
    assert "my_secret_key" not in result.stderr
