"""Fetch the exact artifact a record is derived from (a PyPI file, a git tag) and check it is what it claims."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from slm_deploy.pins.interfaces import RecordError

PYPI_SIMPLE = "https://pypi.org/simple/{name}/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
"""PEP 691: the index's JSON form lists every file of a project with its sha256."""
TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Artifact:
    """A downloaded file with the digest PyPI published for it."""

    path: Path
    url: str
    sha256: str

    def describe(self, what: str) -> str:
        return f"{what}: {self.path.name} (sha256 {self.sha256})"


def cache_root() -> Path:
    """$SLM_DEPLOY_CACHE_DIR or $XDG_CACHE_HOME/slm-deploy: artefacts and builds shared with the test suite."""
    configured = os.environ.get("SLM_DEPLOY_CACHE_DIR")
    root = Path(configured) if configured else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "slm-deploy")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Where downloaded artifacts are kept, keyed by their file names."""
    folder = cache_root() / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Serialise one expensive step (a download, a build) across processes on this machine."""
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pypi_wheel(name: str, version: str, http: httpx.Client | None = None) -> Artifact:
    """The wheel PyPI serves for name==version (pure or manylinux x86_64), downloaded once and verified."""
    return _pypi_file(name, version, _preferred, "wheel for linux x86_64", http)


def pypi_file_with_hash(name: str, version: str, sha256: str, http: httpx.Client | None = None) -> Artifact:
    """The one file of name==version whose sha256 PyPI publishes as this (a lock's wheel for another platform)."""
    return _pypi_file(name, version, lambda files: next((f for f in files if f["hashes"]["sha256"] == sha256), None),
                      f"file with sha256 {sha256}", http)


def pypi_sdist(name: str, version: str, http: httpx.Client | None = None) -> Artifact:
    """The source distribution PyPI serves for name==version, downloaded once and verified."""
    def sdist(files: list[dict]) -> dict | None:
        return next((f for f in files if f["filename"].endswith(".tar.gz")), None)
    return _pypi_file(name, version, sdist, "source distribution", http)


def _pypi_file(name: str, version: str, choose: Callable[[list[dict]], dict | None], what: str,
               http: httpx.Client | None) -> Artifact:
    client = http or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True)
    try:
        response = client.get(PYPI_SIMPLE.format(name=name), headers={"Accept": SIMPLE_JSON})
        if response.status_code != 200:
            raise RecordError(f"PyPI has no project {name} (HTTP {response.status_code})")
        prefix = f"{name.replace('-', '_')}-{version}".lower()
        files = [f for f in response.json().get("files", [])
                 if f["filename"].lower().startswith((f"{prefix}-", f"{prefix}.tar.gz")) and not f.get("yanked")]
        chosen = choose([f for f in files if f["filename"].endswith((".whl", ".tar.gz"))])
        if chosen is None:
            raise RecordError(f"PyPI lists no {what} of {name}=={version}")
        target = cache_dir() / chosen["filename"]
        expected = chosen["hashes"]["sha256"]
        if not (target.exists() and _sha256(target) == expected):
            _download(client, chosen["url"], target)
        actual = _sha256(target)
        if actual != expected:
            target.unlink(missing_ok=True)
            raise RecordError(f"{chosen['filename']}: sha256 does not match what PyPI published")
        return Artifact(target, chosen["url"], expected)
    except httpx.HTTPError as error:
        raise RecordError(f"cannot reach PyPI for {name}=={version} ({error.__class__.__name__})") from error
    finally:
        if http is None:
            client.close()


def _preferred(files: list[dict]) -> dict | None:
    for marker in ("-none-any.whl", "manylinux_2_28_x86_64.whl", "manylinux2014_x86_64.whl", "x86_64.whl"):
        for entry in files:
            if entry["filename"].endswith(marker):
                return entry
    return None


def _download(client: httpx.Client, url: str, target: Path) -> None:
    partial = target.with_suffix(target.suffix + ".part")
    with client.stream("GET", url) as response, open(partial, "wb") as handle:
        if response.status_code != 200:
            raise RecordError(f"download of {target.name} answered HTTP {response.status_code}")
        for chunk in response.iter_bytes(1 << 20):
            handle.write(chunk)
    partial.replace(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def python_sources(wheel: Path, package: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every .py file of one top-level package inside a wheel, read without installing or importing it."""
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(f"{package}/") and name.endswith(".py") and not name.startswith(skip):
                found[name] = archive.read(name).decode("utf-8", errors="replace")
    if not found:
        raise RecordError(f"{wheel.name} holds no {package}/ sources")
    return found


def wheel_metadata(wheel: Path) -> str:
    """The METADATA file of a wheel (its Requires-Dist lines name the pinned dependencies)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if name is None:
            raise RecordError(f"{wheel.name} has no METADATA")
        return archive.read(name).decode("utf-8")


@dataclass(frozen=True)
class GitTree:
    """One tag of a local git mirror (bare or not), read with `git show` without checking anything out."""

    git_dir: Path
    ref: str

    def commit(self) -> str:
        return self._git("rev-parse", f"{self.ref}^{{commit}}").strip()

    def read(self, path: str) -> str:
        return self._git("show", f"{self.ref}:{path}")

    def files(self, folder: str) -> list[str]:
        return self._git("ls-tree", "-r", "--name-only", self.ref, "--", folder).split()

    def grep(self, pattern: str, files: str) -> list[str]:
        """The paths of files matching `files` whose text matches the extended regular expression `pattern`."""
        output = self._git("grep", "-l", "-E", pattern, self.ref, "--", files, allowed=(1,))
        return [line.removeprefix(f"{self.ref}:") for line in output.split()]

    def _git(self, *args: str, allowed: tuple[int, ...] = ()) -> str:
        result = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True, text=True)
        if result.returncode != 0 and result.returncode not in allowed:
            raise RecordError(f"{self.git_dir}: git {args[0]} {self.ref} failed ({result.stderr.strip()[:200]})")
        return result.stdout


def mirror(root: Path, owner: str, name: str) -> Path | None:
    """The git directory of owner/name under a mirrors folder (owner+name/repo, owner+name, or name.git)."""
    for candidate in (root / f"{owner}+{name}" / "repo", root / f"{owner}+{name}", root / f"{name}.git", root / name):
        if (candidate / "HEAD").exists() or (candidate / ".git").exists():
            return candidate / ".git" if (candidate / ".git").is_dir() else candidate
    return None
