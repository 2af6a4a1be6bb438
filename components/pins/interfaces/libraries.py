"""Records of Python libraries inside runtime images whose variables the adapters set (huggingface_hub, numba).

A runtime's own record lists what its code reads; a variable such as HF_HOME is read by huggingface_hub,
which the vLLM, ONNX and Open WebUI images carry. The version is the one pinned for the image that uses it:
huggingface_hub as this repository pins it for the images it builds, numba as vLLM's wheel pins it.
"""

from __future__ import annotations

import re

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import pypi_wheel, python_sources, wheel_metadata
from slm_deploy.pins.interfaces.pysource import env_names, trees

LIBRARIES = {"huggingface-hub": "huggingface_hub", "numba": "numba"}


def derive(name: str, version: str) -> dict:
    """Environment variables library `name`==version reads, from its PyPI wheel."""
    package = LIBRARIES[name]
    wheel = pypi_wheel(name, version)
    parsed = dict(trees(python_sources(wheel.path, package, skip=(f"{package}/tests/",))))
    env = env_names(parsed.values())
    if not env:
        raise RecordError(f"{wheel.path.name}: no environment variables found")
    return {
        "runtime": name, "version": version, "pin": [],
        "artifact": wheel.describe(f"{name} {version} wheel from PyPI"),
        "derived_by": __name__,
        "sources": [f"https://pypi.org/project/{name}/{version}/"],
        "flags": [], "env": sorted(env), "metrics": [], "endpoints": [],
    }


def pinned_requirement(metadata: str, name: str) -> str:
    """The exact version a wheel's METADATA pins for a dependency (`Requires-Dist: numba==0.65.0`)."""
    pattern = re.compile(rf"^Requires-Dist: {re.escape(name)}\s*==\s*([0-9][^\s;,]*)", re.MULTILINE | re.IGNORECASE)
    match = pattern.search(metadata)
    if match is None:
        raise RecordError(f"the wheel does not pin {name} exactly")
    return match.group(1)


def vllm_numba_version(vllm_version: str) -> str:
    """numba as the pinned vLLM wheel requires it."""
    return pinned_requirement(wheel_metadata(pypi_wheel("vllm", vllm_version.removeprefix("v")).path), "numba")
