"""The bundle writer: atomic, refuses foreign directories, keeps files it does not own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_deploy.errors import BundleError, WriteError
from slm_deploy.render.bundle import Bundle
from slm_deploy.render.writer import write_bundle


def _bundle(files: dict[str, str]) -> Bundle:
    manifest = {"generator": {"name": "slm-deploy", "version": "test"},
                "files": {name: "x" for name in files}}
    return Bundle({**files, "manifest.json": json.dumps(manifest)})


def test_writes_a_new_bundle(tmp_path: Path) -> None:
    write_bundle(_bundle({"a/b.txt": "one"}), tmp_path / "out")
    assert (tmp_path / "out" / "a" / "b.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary sibling is left behind"


def test_replaces_owned_files_and_removes_stale_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_bundle(_bundle({"old.txt": "1", "keep.txt": "1"}), out)
    write_bundle(_bundle({"keep.txt": "2"}), out)
    assert (out / "keep.txt").read_text() == "2"
    assert not (out / "old.txt").exists()


def test_keeps_files_the_bundle_does_not_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_bundle(_bundle({"keep.txt": "1"}), out)
    (out / "compose" / "secrets").mkdir(parents=True)
    (out / "compose" / "secrets" / "api-keys").write_text("user secret")
    write_bundle(_bundle({"keep.txt": "2"}), out)
    assert (out / "compose" / "secrets" / "api-keys").read_text() == "user secret"


def test_refuses_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "important.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a slm-deploy bundle"):
        write_bundle(_bundle({"a.txt": "x"}), out)
    assert sorted(p.name for p in out.iterdir()) == ["important.txt"]


def test_refuses_to_overwrite_a_user_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_bundle(_bundle({"a.txt": "x"}), out)
    (out / "notes.md").write_text("mine")
    with pytest.raises(BundleError, match="notes.md"):
        write_bundle(_bundle({"a.txt": "y", "notes.md": "generated"}), out)
    assert (out / "notes.md").read_text() == "mine"
    assert (out / "a.txt").read_text() == "x", "nothing was written"


def test_a_failed_write_leaves_the_previous_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_bundle(_bundle({"a.txt": "x"}), out)
    (out / "user.txt").write_text("mine")

    def broken(staging: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("slm_deploy.render.writer._swap", broken)
    with pytest.raises(WriteError, match="disk full"):
        write_bundle(_bundle({"a.txt": "y"}), out)
    assert (out / "a.txt").read_text() == "x"
    assert (out / "user.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_keeps_the_users_empty_directories_and_every_directory_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_bundle(_bundle({"compose/compose.yaml": "1", "docker/old/Dockerfile": "1"}), out)
    (out / "compose" / "secrets").mkdir()
    (out / "notes").mkdir()
    out.chmod(0o755)
    (out / "compose" / "secrets").chmod(0o700)
    (out / "compose").chmod(0o750)
    write_bundle(_bundle({"compose/compose.yaml": "2"}), out)
    assert (out / "compose" / "secrets").is_dir() and (out / "notes").is_dir()
    modes = {p: (out / p).stat().st_mode & 0o777 for p in (".", "compose", "compose/secrets")}
    assert modes == {".": 0o755, "compose": 0o750, "compose/secrets": 0o700}
    assert not (out / "docker").exists(), "a directory that only held files the bundle no longer writes goes"


def test_a_symlinked_out_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real, link = tmp_path / "real", tmp_path / "link"
    write_bundle(_bundle({"a.txt": "1"}), real)
    link.symlink_to(real)
    write_bundle(_bundle({"a.txt": "2"}), link)
    assert link.is_symlink() and (real / "a.txt").read_text() == "2"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (tmp_path / "fresh-link").symlink_to(fresh)
    write_bundle(_bundle({"a.txt": "3"}), tmp_path / "fresh-link")
    assert (tmp_path / "fresh-link").is_symlink() and (fresh / "a.txt").read_text() == "3"


@pytest.mark.parametrize("target", ["missing", "file", "link"])
def test_a_symlink_to_no_directory_is_refused(target: str, tmp_path: Path) -> None:
    if target == "file":
        (tmp_path / "file").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / target)  # "link" points at itself: a loop
    with pytest.raises(BundleError, match="symbolic link to something that is not an existing directory"):
        write_bundle(_bundle({"a.txt": "1"}), link)
    assert link.is_symlink() and not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"link", "file"} & {"link", target})


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_the_bundles_modes_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """Scripts are executable by everyone who may read the bundle, the rest readable: a user's umask narrows
    neither, and the text is written whole (multi-byte characters included)."""
    import os

    previous = os.umask(umask)
    try:
        write_bundle(_bundle({"scripts/run.sh": "#!/bin/sh\n", "README.md": "é" * 70_000}), tmp_path / "out")
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    assert (out / "scripts" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (out / "README.md").stat().st_mode & 0o777 == 0o644
    assert (out / "README.md").read_text(encoding="utf-8") == "é" * 70_000
