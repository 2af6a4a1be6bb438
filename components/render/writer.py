"""Write bundles atomically: build each in a temporary sibling, then rename them into place, all or none."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

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
    made: set[str] = set()
    for relative, text in bundle.files.items():
        path = os.path.join(root, relative)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        _write_new(path, text.encode("utf-8"), 0o755 if relative.endswith(".sh") else 0o644)


def _write_new(path: str, data: bytes, mode: int) -> None:
    """Create a file the staging directory cannot hold yet (never following a link) with exactly `mode`, in as few
    system calls as it takes: open, write, fchmod (the umask may have narrowed the mode), close."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


USER_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR,
                         errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT})
"""Refusals that come from the --out the user chose (exit 2), not from the machine (exit 1)."""


@dataclass
class _Placement:
    """One bundle on its way into its directory, with what it takes to put the directory back as it was."""

    bundle: Bundle
    out: Path
    owned: set[str]
    foreign: list[str]
    created: list[Path] = field(default_factory=list)
    """Parents of out this run made, outermost first."""
    staging: Path | None = None
    retired: Path | None = None
    """Holds the previous bundle (as retired/bundle) while the new one is in place."""
    moved: list[str] = field(default_factory=list)
    """The user's files moved from out into the staging directory, to keep them across the swap."""
    placed: bool = False

    def shown(self, filename: str | None) -> Path:
        """The path an OS error names, said as the path in out it stands for (never a staging path that goes)."""
        if not filename:
            return self.out
        path = Path(filename)
        for temporary in (self.staging, self.retired and self.retired / "bundle"):
            if temporary is not None and path.is_relative_to(temporary):
                return self.out / path.relative_to(temporary)
        return self.out if self.retired and path.is_relative_to(self.retired) else path


def write_bundle(bundle: Bundle, out: Path) -> None:
    """Replace a previous bundle (or create a new one) without ever touching files it does not own."""
    write_bundles([(bundle, out)])


def write_bundles(targets: list[tuple[Bundle, Path]]) -> None:
    """Write one bundle or several, all or nothing: every target is checked, then every bundle is staged, then each
    is swapped in; a failure puts back whatever the run had already replaced."""
    outs = [out.absolute() for _, out in targets]
    placements = []
    for (bundle, _), out in zip(targets, outs):
        target, owned, foreign = _guarded(out, partial(_target_state, bundle, out))
        placements.append(_Placement(bundle, target, owned, foreign))
    _refuse_one_directory_twice(outs, [Path(os.path.realpath(placement.out)) for placement in placements])
    try:
        for placement in placements:
            _guarded(placement.out, partial(_stage, placement), placement)
        for placement in placements:
            _guarded(placement.out, partial(_place, placement), placement)
    except BaseException as failure:
        kept = _roll_back(placements)
        if kept and isinstance(failure, BundleError):
            cause = str(failure).splitlines()[0]
            raise type(failure)(f"{cause}\n  written, and could not be put back as they were: {', '.join(kept)}\n"
                                "  hint: render again once the cause is fixed; every other bundle is unchanged") from None
        raise
    for placement in placements:
        if placement.retired is not None:
            _remove_retired(placement.retired)


def _refuse_one_directory_twice(outs: list[Path], directories: list[Path]) -> None:
    """Two targets that are one directory, by name or through symbolic links, would leave only the last bundle."""
    first: dict[Path, Path] = {}
    for out, directory in zip(outs, directories):
        if directory in first:
            both = str(out) if first[directory] == out else f"{first[directory]} and {out} (one directory)"
            raise BundleError(f"{both}: two specs would write the same bundle directory\n"
                              "  hint: give each deployment its own name and directory; nothing was written")
        first[directory] = out


def _remove_retired(retired: Path) -> None:
    """Remove a previous bundle once every new one is in place; a refusal says the new bundles are written."""
    try:
        shutil.rmtree(retired)
    except OSError as exc:
        raise WriteError(f"{retired}: every bundle was written, but this copy of a previous one could not be "
                         f"removed ({exc.strerror or exc.__class__.__name__})\n  hint: remove it by hand") from None


def _guarded(out: Path, step: Callable[[], Any], placement: _Placement | None = None) -> Any:
    """Run a step on an --out directory, turning an operating-system refusal into one clear error."""
    try:
        return step()
    except OSError as exc:
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        where = placement.shown(exc.filename) if placement else Path(exc.filename) if exc.filename else out
        if exc.errno == errno.ENOTDIR or (exc.errno == errno.EEXIST and where.is_file()):
            reason = "a file is in the way of a directory"
        refused = exc.errno in USER_ERRNOS
        hint = ("choose an --out in a directory you can write to" if refused
                else "free space on that file system (or fix the device) and render again")
        raise (BundleError if refused else WriteError)(f"{out}: cannot write the bundle ({reason}: {where})\n"
                                                       f"  hint: {hint}; nothing was changed") from None


def _target_state(bundle: Bundle, out: Path) -> tuple[Path, set[str], list[str]]:
    """Where the bundle goes, which files a previous bundle there owns and which are the user's; refuses a
    directory that is not a bundle and anything of the user's that the bundle would overwrite or be blocked by."""
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
        blocked = _blocked(bundle, out, foreign)
        if blocked:
            raise BundleError(f"{out}: the bundle is blocked by what it does not own: {', '.join(blocked)}\n"
                              "  hint: move them out of the bundle directory; nothing was changed")
    return out, owned, foreign


def _blocked(bundle: Bundle, out: Path, foreign: list[str]) -> list[str]:
    """The user's directories where the bundle writes a file, and the user's files where it needs a folder."""
    folders = {parent.as_posix() for name in bundle.files for parent in Path(name).parents}
    directories = [p.relative_to(out).as_posix() for p in _directories(out)]
    return sorted([f"{name} (a directory where the bundle writes a file)" for name in directories
                   if name in bundle.files]
                  + [f"{name} (a file where the bundle needs a directory)" for name in foreign if name in folders])


def _stage(placement: _Placement) -> None:
    """Write the bundle into a fresh sibling of its directory (making the parents it needs, remembered)."""
    out = placement.out
    missing = [parent for parent in reversed(out.parents) if not parent.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    placement.created = missing
    placement.staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    _fill(placement.staging, placement.bundle)


def _place(placement: _Placement) -> None:
    """Move the user's files into the staged bundle, keep the previous directories, and swap it in."""
    out, staging = placement.out, placement.staging
    assert staging is not None
    for relative in placement.foreign:
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(out / relative, staging / relative)
        placement.moved.append(relative)
    if out.exists():
        _keep_directories(out, staging, placement.owned)
    placement.retired = _swap(staging, out)
    placement.placed = True


def _swap(staging: Path, out: Path) -> Path | None:
    """Rename staging to out; a previous bundle is set aside first (returned, to remove once every bundle is in
    place) and restored if the rename fails."""
    if not out.exists():
        os.replace(staging, out)
        return None
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, retired / "bundle")
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(retired / "bundle", out)
        os.rmdir(retired)
        raise
    return retired


def _roll_back(placements: list[_Placement]) -> list[str]:
    """Put every directory back as it was, last placed first; the names of bundles that could not be put back."""
    kept = []
    for placement in reversed(placements):
        try:
            _undo(placement)
        except OSError:
            kept.append(placement.out.name)
    return sorted(kept)


def _undo(placement: _Placement) -> None:
    """Take the new bundle out, put the previous one and the user's files back, remove what the run made."""
    out, staging, retired = placement.out, placement.staging, placement.retired
    if placement.placed and staging is not None:
        os.replace(out, staging)
        placement.placed = False
    if retired is not None:
        os.replace(retired / "bundle", out)
        os.rmdir(retired)
        placement.retired = None
    for relative in list(placement.moved):
        assert staging is not None
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, out / relative)
        placement.moved.remove(relative)
    if staging is not None:  # only the run's own copy is left in it; a refusal to remove it changes nothing of the user's
        shutil.rmtree(staging, ignore_errors=True)
        placement.staging = None
    for directory in reversed(placement.created):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
