"""The MLX host installs one locked set: every package at one version, with the sha256 of a macOS arm64 wheel PyPI
publishes for it for each CPython install.sh accepts, and the set satisfies mlx-lm's own requirements and those of every
package in it (what `pip check` judges on the Mac), with nothing in it that nothing requires."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name

from slm_deploy.pins.interfaces.artifacts import (
    pypi_file_with_hash, pypi_wheel, wheel_metadata,
)
from slm_deploy.runtimes.mlx import MLX_LM_VERSION, PYTHONS, REQUIREMENTS, host_lock
from slm_deploy.servers.gateway.render import GATEWAY_REQUIREMENTS
from tests.runtimes.test_model_prep_locks import published_wheels, unmet

MACOS_MAJOR = 14
"""install.sh refuses macOS before 14, the oldest the pinned mlx wheels support."""


def locked(text: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package's version and listed sha256 hashes."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            pin, *options = line.split()
            name, version = pin.split("==")
            found[canonicalize_name(name)] = (version, [option.removeprefix("--hash=sha256:") for option in options])
    return found


def mac(python: str) -> dict[str, str]:
    """The marker environment of an Apple silicon Mac with this CPython."""
    return {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64",
            "python_version": python, "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}


def mac_tags(python: str) -> set[Tag]:
    """The wheel tags pip accepts on macOS 14 (arm64) with this CPython."""
    platforms = [f"macosx_{major}_0_{arch}" for major in range(MACOS_MAJOR, 10, -1) for arch in ("arm64", "universal2")]
    platforms += [f"macosx_10_{minor}_{arch}" for minor in range(16, 3, -1) for arch in ("arm64", "universal2")]
    version = tuple(int(part) for part in python.split("."))
    return {*cpython_tags(version, platforms=platforms), *compatible_tags(version, platforms=platforms)}


@dataclass(frozen=True)
class Release:
    """What PyPI's index publishes for one locked version: each wheel's sha256 and tags, and the requirements the
    locked wheel's metadata declares (what pip reads)."""

    wheels: dict[str, frozenset[Tag]]
    requires: tuple[str, ...]


def release(client: httpx.Client, name: str, version: str, hashes: list[str]) -> Release:
    """PyPI's files of name==version (PEP 691 JSON) and the requirements the first locked wheel declares."""
    wheels = published_wheels(client, name, version)
    requires: tuple[str, ...] = ()
    if hashes and hashes[0] in wheels:
        metadata = wheel_metadata(pypi_file_with_hash(name, version, hashes[0], client).path)
        requires = tuple(re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE))
    return Release(wheels, requires)


def without_mac_wheel(lock: dict[str, tuple[str, list[str]]], records: dict[str, Release], python: str) -> list[str]:
    """The locked packages with a hash PyPI does not publish for their version, or none a Mac with this CPython takes."""
    accepted = mac_tags(python)
    missing = []
    for name, (_, hashes) in lock.items():
        wheels = records[name].wheels
        if any(digest not in wheels for digest in hashes) or not any(wheels[d] & accepted for d in hashes if d in wheels):
            missing.append(name)
    return missing


def declared(requires: tuple[str, ...] | list[str], python: str) -> list[Requirement]:
    """What a package requires on a Mac with this CPython, without extras."""
    found = [Requirement(text) for text in requires]
    return [r for r in found if r.marker is None or r.marker.evaluate(mac(python))]


def unrequired(lock: dict[str, tuple[str, list[str]]], records: dict[str, Release], python: str) -> list[str]:
    """Locked packages that neither the top-level pins nor any locked package requires."""
    wanted = {canonicalize_name(Requirement(pin).name) for pin in REQUIREMENTS + GATEWAY_REQUIREMENTS}
    wanted |= {canonicalize_name(r.name) for name in lock for r in declared(records[name].requires, python)}
    return sorted(set(lock) - wanted)


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        return {name: release(client, name, version, hashes) for name, (version, hashes) in locked(host_lock()).items()}


def test_every_package_is_locked_once_with_wheel_hashes() -> None:
    lines = [line for line in host_lock().splitlines() if line and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9.-]+==[^\s=]+( --hash=sha256:[0-9a-f]{64}){1,4}", line) for line in lines)
    names = [canonicalize_name(line.split("==")[0]) for line in lines]
    assert len(names) == len(set(names)) == len(locked(host_lock()))
    assert all(len(hashes) == len(set(hashes)) for _, hashes in locked(host_lock()).values())


def test_the_lock_holds_every_top_level_pin_at_its_version() -> None:
    versions = {name: version for name, (version, _) in locked(host_lock()).items()}
    pins = [Requirement(pin) for pin in REQUIREMENTS + GATEWAY_REQUIREMENTS]
    assert unmet(pins, versions) == []
    assert versions["mlx-lm"] == MLX_LM_VERSION


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_every_locked_package_has_the_hash_of_a_mac_wheel_for_each_python(python: str, records: dict[str, Release]) -> None:
    assert without_mac_wheel(locked(host_lock()), records, python) == []


@pytest.mark.slow
def test_a_lock_without_a_mac_wheel_is_found(records: dict[str, Release]) -> None:
    """numpy's hashes for CPython 3.11 name no wheel a 3.12 Mac installs; a Linux wheel's or an unpublished hash is
    not a Mac wheel of that version."""
    version, hashes = locked(host_lock())["numpy"]
    wheels = records["numpy"].wheels
    cp311 = [d for d in hashes if any(tag.interpreter == "cp311" for tag in wheels[d])]
    linux = next(d for d, tags in wheels.items() if any("manylinux" in tag.platform for tag in tags))
    assert without_mac_wheel({"numpy": (version, cp311)}, records, "3.11") == []
    assert without_mac_wheel({"numpy": (version, cp311)}, records, "3.12") == ["numpy"]
    assert without_mac_wheel({"numpy": (version, [linux])}, records, "3.11") == ["numpy"]
    assert without_mac_wheel({"numpy": (version, [*cp311, "0" * 64])}, records, "3.11") == ["numpy"]


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_the_lock_holds_what_mlx_lm_requires(python: str) -> None:
    """Read from the pinned mlx-lm wheel itself, as pip reads it."""
    metadata = wheel_metadata(pypi_wheel("mlx-lm", MLX_LM_VERSION).path)
    requirements = declared(re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE), python)
    assert {"mlx", "transformers", "numpy"} <= {canonicalize_name(r.name) for r in requirements}
    versions = {name: version for name, (version, _) in locked(host_lock()).items()}
    assert unmet(requirements, versions) == []


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_the_lock_is_closed_and_holds_nothing_unrequired(python: str, records: dict[str, Release]) -> None:
    """What `pip check` asks after the --no-deps install: every locked package's requirements are locked too."""
    lock = locked(host_lock())
    versions = {name: version for name, (version, _) in lock.items()}
    missing = [f"{name}: {text}" for name in lock for text in unmet(declared(records[name].requires, python), versions)]
    assert missing == []
    assert unrequired(lock, records, python) == []
