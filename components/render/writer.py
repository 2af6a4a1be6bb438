"""Write a bundle atomically: build it in a temporary sibling, then rename it into place."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from slm_deploy.errors import BundleError, WriteError
from slm_deploy.render.bundle import GENERATOR, MANIFEST, Bundle


def owned_files(directory: Path) -> set[str] | None:
    """The files a previous bundle in `directory` owns, or None if it is not a bundle."""
    manifest = directory / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("generator", {}).get("name") != GENERATOR:
        return None
    return set(data.get("files", {})) | {MANIFEST}


def _foreign_files(directory: Path, owned: set[str]) -> list[str]:
    """Files in an existing bundle directory that the bundle did not write (the user's own)."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() or path.is_symlink():
            relative = path.relative_to(directory).as_posix()
            if relative not in owned:
                found.append(relative)
    return found


def _fill(root: Path, bundle: Bundle) -> None:
    for relative, text in bundle.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o755 if relative.endswith(".sh") else 0o644)


USER_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR,
                         errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT})
"""Refusals that come from the --out the user chose (exit 2), not from the machine (exit 1)."""


def write_bundle(bundle: Bundle, out: Path) -> None:
    """Replace a previous bundle (or create a new one) without ever touching files it does not own."""
    out = out.absolute()
    try:
        _write(bundle, out)
    except OSError as exc:
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        where = Path(exc.filename) if exc.filename else out
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a file is in the way of a directory"
        error = BundleError if exc.errno in USER_ERRNOS else WriteError
        raise error(f"{out}: cannot write the bundle ({reason}: {where})\n"
                    "  hint: choose an --out in a directory you can write to; nothing was changed") from None


def _write(bundle: Bundle, out: Path) -> None:
    foreign: list[str] = []
    if out.exists():
        if not out.is_dir():
            raise BundleError(f"{out}: exists and is not a directory")
        owned = owned_files(out)
        if owned is None and any(out.iterdir()):
            raise BundleError(f"{out}: not empty and not a slm-deploy bundle (no {MANIFEST}); "
                              "choose another --out or empty it")
        foreign = _foreign_files(out, owned or set())
        clashes = [name for name in foreign if name in bundle.files]
        if clashes:
            raise BundleError(f"{out}: the bundle would overwrite files it does not own: {', '.join(clashes)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    moved: list[str] = []
    try:
        _fill(staging, bundle)
        for relative in foreign:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / relative, staging / relative)
            moved.append(relative)
        _swap(staging, out)
    except BaseException:
        for relative in moved:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, out / relative)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out: Path) -> None:
    """Rename staging to out; a previous bundle is set aside first and restored if the rename fails."""
    if not out.exists():
        os.replace(staging, out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, retired / "bundle")
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(retired / "bundle", out)
        raise
    shutil.rmtree(retired)
