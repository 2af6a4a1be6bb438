"""Write a bundle atomically: build it in a temporary sibling, then rename it into place."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
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


def _directories(directory: Path) -> list[Path]:
    """Every directory under a previous bundle, parents first (kept, empty or not, with their modes)."""
    return sorted((p for p in directory.rglob("*") if p.is_dir() and not p.is_symlink()), key=lambda p: len(p.parts))


def _keep_directories(previous: Path, staging: Path, owned: set[str]) -> None:
    """Keep the modes of the previous bundle's directories (the bundle directory's too) and the user's own
    directories, empty or not; a directory that only held files the bundle no longer writes goes with them."""
    owned_dirs = {parent.as_posix() for name in owned for parent in Path(name).parents}
    kept = [(previous, staging)]
    for path in _directories(previous):
        relative = path.relative_to(previous).as_posix()
        copy = staging / relative
        if copy.is_dir() or relative not in owned_dirs:
            copy.mkdir(parents=True, exist_ok=True)
            kept.append((path, copy))
    for path, copy in reversed(kept):  # deepest first, so a read-only parent is closed last
        os.chmod(copy, stat.S_IMODE(path.stat().st_mode))


def _followed(out: Path) -> Path:
    """A symlinked --out is followed to the directory it names, so the link stays a link."""
    if not out.is_symlink():
        return out
    try:
        target = out.resolve()
    except RuntimeError:  # a symlink loop
        target = out
    if not target.is_dir():
        raise BundleError(f"{out}: a symbolic link to something that is not an existing directory\n"
                          "  hint: point it at a directory, or pass that directory as --out; nothing was changed")
    return target


def _fill(root: Path, bundle: Bundle) -> None:
    """Write every file into the fresh staging directory, making each folder once (a bundle has a hundred files in
    a dozen folders)."""
    made: set[Path] = set()
    for relative, text in bundle.files.items():
        path = root / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o755 if relative.endswith(".sh") else 0o644)


USER_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR,
                         errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT})
"""Refusals that come from the --out the user chose (exit 2), not from the machine (exit 1)."""


def write_bundle(bundle: Bundle, out: Path) -> None:
    """Replace a previous bundle (or create a new one) without ever touching files it does not own."""
    _guarded(_write, bundle, out.absolute())


def _guarded(step: Callable[[Bundle, Path], object], bundle: Bundle, out: Path) -> None:
    """Run a step on the --out directory, turning an operating-system refusal into one clear error."""
    try:
        step(bundle, out)
    except OSError as exc:
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        where = Path(exc.filename) if exc.filename else out
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a file is in the way of a directory"
        error = BundleError if exc.errno in USER_ERRNOS else WriteError
        raise error(f"{out}: cannot write the bundle ({reason}: {where})\n"
                    "  hint: choose an --out in a directory you can write to; nothing was changed") from None


def write_bundles(targets: list[tuple[Bundle, Path]]) -> None:
    """Write several bundles, each atomically, after every target has passed the checks a single write makes,
    so a refused directory stops the run before anything is written."""
    outs = [out.absolute() for _, out in targets]
    for out in outs:
        if outs.count(out) > 1:
            raise BundleError(f"{out}: two specs would write the same bundle directory\n"
                              "  hint: give each deployment its own name; nothing was written")
    for (bundle, _), out in zip(targets, outs):
        _guarded(_target_state, bundle, out)
    for (bundle, _), out in zip(targets, outs):
        write_bundle(bundle, out)


def _target_state(bundle: Bundle, out: Path) -> tuple[Path, set[str], list[str]]:
    """Where the bundle goes, which files a previous bundle there owns and which are the user's; refuses a
    directory that is not a bundle and any file of the user's that the bundle would overwrite."""
    out = _followed(out)
    foreign: list[str] = []
    owned: set[str] = set()
    if out.exists():
        if not out.is_dir():
            raise BundleError(f"{out}: exists and is not a directory")
        owned = owned_files(out) or set()
        if not owned and any(out.iterdir()):
            raise BundleError(f"{out}: not empty and not a slm-deploy bundle (no {MANIFEST}); "
                              "choose another --out or empty it")
        foreign = _foreign_files(out, owned)
        clashes = [name for name in foreign if name in bundle.files]
        if clashes:
            raise BundleError(f"{out}: the bundle would overwrite files it does not own: {', '.join(clashes)}")
    return out, owned, foreign


def _write(bundle: Bundle, out: Path) -> None:
    out, owned, foreign = _target_state(bundle, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    moved: list[str] = []
    try:
        _fill(staging, bundle)
        for relative in foreign:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / relative, staging / relative)
            moved.append(relative)
        if out.exists():
            _keep_directories(out, staging, owned)
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
