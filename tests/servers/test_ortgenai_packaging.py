"""The server's image contents: every dependency pinned, and the code needs nothing beyond those pins."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

SERVER_DIR = Path(__file__).resolve().parents[2] / "components" / "servers" / "ortgenai"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[0-9][A-Za-z0-9.+!-]*)$")
IMPORT_TO_DISTRIBUTION = {
    "onnxruntime_genai": "onnxruntime-genai",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "prometheus_client": "prometheus_client",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "llguidance": "llguidance",
    "h11": "h11",
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (SERVER_DIR / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"requirements.txt line is not an exact pin: {line!r}"
        pins[normalise(match["name"])] = match["version"]
    return pins


def top_level_imports() -> set[str]:
    names: set[str] = set()
    for source in SERVER_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_requirement_is_an_exact_pin_and_sorted():
    pins = pinned()
    assert list(pins) == sorted(pins)
    for distribution in IMPORT_TO_DISTRIBUTION.values():
        assert normalise(distribution) in pins


def test_server_code_imports_only_the_standard_library_and_pinned_packages():
    third_party = {name for name in top_level_imports() if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party <= set(IMPORT_TO_DISTRIBUTION), (
        f"imports outside the image's pins (the image has no slm_deploy): {sorted(third_party - set(IMPORT_TO_DISTRIBUTION))}"
    )


@pytest.mark.parametrize("distribution", sorted(IMPORT_TO_DISTRIBUTION.values()))
def test_tests_run_the_same_release_line_the_image_ships(distribution):
    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed here")
    shipped = pinned()[normalise(distribution)]
    same_line = 2 if distribution == "onnxruntime-genai" else 1
    assert installed.split(".")[:same_line] == shipped.split(".")[:same_line], (
        f"tests run {distribution} {installed}, the image ships {shipped}"
    )
