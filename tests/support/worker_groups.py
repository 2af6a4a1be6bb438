"""Which tests share an xdist worker (`make test` runs `-n 2 --dist loadgroup`), so expensive fixtures start once.

A module-scoped fixture is set up on every worker that runs one of its module's tests, and a session-scoped one on
every worker that uses it: spread over two workers, a Compose project or a pod cluster starts twice. So each
integration module runs on one worker, the modules that use the running ONNX Compose project share one, and the
tests that need the llama.cpp build run last (CI builds it in the background while everything else runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_FOLDER = "integration"
SHARED_PROJECT_FIXTURE = "compose_project"
SHARED_PROJECT_GROUP = "onnx-compose-project"


def needs_llamacpp(item: pytest.Item) -> bool:
    """Whether the test uses the llama.cpp build (through any fixture with llamacpp in its name)."""
    return any("llamacpp" in name for name in getattr(item, "fixturenames", ()))


def _uses_shared_project(item: pytest.Item) -> bool:
    return SHARED_PROJECT_FIXTURE in getattr(item, "fixturenames", ())


def worker_group(item: pytest.Item, shared_project_modules: set[Path]) -> str | None:
    """The xdist group of an integration test: its module's, or the shared project's; None elsewhere."""
    if item.path.parent.name != INTEGRATION_FOLDER:
        return None
    if item.path in shared_project_modules:
        return SHARED_PROJECT_GROUP
    return f"{INTEGRATION_FOLDER}-{item.path.stem}"


@pytest.hookimpl(tryfirst=True)  # xdist reads the groups in its own hook: they must be marked before it runs
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each integration test with its worker group, and put the llama.cpp tests and their groups last.

    xdist hands out a group where its first test stands, so a group goes last as a whole when any test in it
    needs the build.
    """
    shared_project_modules = {item.path for item in items if _uses_shared_project(item)}
    groups = [worker_group(item, shared_project_modules) for item in items]
    late_groups = {group for item, group in zip(items, groups) if group is not None and needs_llamacpp(item)}
    late = {id(item) for item, group in zip(items, groups) if needs_llamacpp(item) or group in late_groups}
    for item, group in zip(items, groups):
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: id(item) in late)
