"""Pytest fixtures for tests that need the Docker engine, the local registry or the digest-pinned base image.

Enable them from tests/conftest.py with ``pytest_plugins = ["tests.support.fixtures"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .base_image import BaseImage, publish_base_image
from .docker_engine import HOST_CA_BUNDLE, docker_available, require_docker
from .registry import ensure_local_registry


def pytest_configure(config: pytest.Config) -> None:
    """testcontainers' reaper image cannot be pulled here; fixtures remove their containers themselves."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front whether container tests will run, and why not."""
    available, reason = docker_available()
    return f"docker: {'available' if available else 'unavailable'} ({reason})"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip the test, with the engine's reason, when no Docker engine answers."""
    require_docker()


@pytest.fixture(scope="session")
def local_registry(docker_engine: None) -> str:
    """Address (127.0.0.1:port) of a running local registry, started on first use."""
    return ensure_local_registry()


@pytest.fixture(scope="session")
def base_image(local_registry: str) -> BaseImage:
    """The suite's Debian base image, built once and cached, pinned by the digest the registry serves."""
    return publish_base_image(local_registry)


@pytest.fixture(scope="session")
def host_ca_bundle() -> Path:
    """The host CA bundle that builds and containers need to reach package registries from here."""
    if not HOST_CA_BUNDLE.is_file():
        pytest.skip(f"{HOST_CA_BUNDLE} is missing; builds cannot reach package registries")
    return HOST_CA_BUNDLE
