"""Operating-system refusals while writing a bundle are one clear message (exit 2 for a bad --out, 1 for a
machine fault), never a traceback, and never leave a half-written bundle behind."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_in_process

MINIMAL = "name: demo\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\n"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    return path


def _clean_error(result, code: int) -> None:
    assert result.code == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write the bundle" in result.stderr and "hint:" in result.stderr


def test_out_whose_parent_is_a_file(spec: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine\n")
    result = run_in_process("render", str(spec), "--out", str(tmp_path / "afile" / "bundle"))
    _clean_error(result, 2)
    assert "a file is in the way" in result.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_out_where_the_system_refuses_to_create_anything(spec: Path) -> None:
    result = run_in_process("render", str(spec), "--out", "/proc/slm-deploy-bundle")
    _clean_error(result, 2)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """A directory no one may create files in: mode 555, plus the immutable flag, which binds root too."""
    directory.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


def test_out_inside_a_read_only_directory(spec: Path, tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only(parent):
        result = run_in_process("render", str(spec), "--out", str(parent / "bundle"))
        assert list(parent.iterdir()) == []
    _clean_error(result, 2)


def test_a_permission_refusal_is_bad_input(spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr("slm_deploy.render.writer.tempfile.mkdtemp", refuse)
    _clean_error(run_in_process("render", str(spec), "--out", str(tmp_path / "bundle")), 2)
    assert not (tmp_path / "bundle").exists()


def test_a_full_disk_keeps_the_previous_bundle(spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bundle"
    assert run_in_process("render", str(spec), "--out", str(out)).code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec.write_text(MINIMAL + "serving: {concurrency: 2}\n")

    def disk_full(path: str, data: bytes, mode: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr("slm_deploy.render.writer._write_new", disk_full)
    _clean_error(run_in_process("render", str(spec), "--out", str(out)), 1)
    monkeypatch.undo()
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "spec.yaml"], "no staging directory is left"
    assert json.loads((out / "manifest.json").read_text())["deployment"] == "demo"
