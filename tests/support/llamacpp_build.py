"""llama-server and llama-quantize of the pinned image's build, as the tests use them.

The build itself (source download, checks, cmake) is the package's `slm_deploy.pins.interfaces.llamacpp_build`,
which `slm-deploy pins --update` uses too, so both share one cached build per machine. Here a missing cmake or
compiler becomes a skip, or a failure where CI promised to install them.
"""

from __future__ import annotations

from slm_deploy.pins.interfaces.llamacpp_build import (
    LlamaCppBuild, build_number, pinned_build, server_version,
)
from slm_deploy.spec.images import pins_table

from .tools import find_executable

PIN_KEY = "llamacpp"


def pinned_build_number() -> int:
    """The llama.cpp build of the pinned CPU server image (tag server-b<N>)."""
    return build_number(pins_table()[PIN_KEY].image.tag)


def llamacpp_build() -> LlamaCppBuild:
    """Return the cached build for the pinned image's build number, building it once per machine."""
    find_executable("cmake", "apt-get install cmake")
    find_executable("g++", "apt-get install g++")
    return pinned_build()


__all__ = ["LlamaCppBuild", "llamacpp_build", "pinned_build_number", "server_version"]
