"""Compose: read-only root filesystem with tmpfs for /tmp."""

from __future__ import annotations

from slm_deploy.policies.access import is_list, items
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services


def _tmpfs_paths(value) -> set[str]:
    """Mount points of a tmpfs entry (string or list, with optional :options)."""
    entries = items(value) if is_list(value) else ([value] if isinstance(value, str) else [])
    return {str(e).split(":", 1)[0].rstrip("/") for e in entries}


def check(project, ctx):
    """Yield violations for writable root filesystems or a missing /tmp tmpfs."""
    for path, service in services(project):
        if service.get("read_only") is not True:
            yield f"{path}.read_only must be true"
        if "/tmp" not in _tmpfs_paths(service.get("tmpfs")):
            yield f"{path}.tmpfs must mount /tmp"


RULE = Rule(
    id="slm-compose-002",
    name="Every Compose service has a read-only root filesystem and a tmpfs at /tmp.",
    severity=Severity.HIGH,
    controls=("C-read-only",),
    kinds=KINDS,
    rationale="A read-only root stops an intruder from altering binaries or dropping tools; /tmp on tmpfs "
              "gives runtimes the scratch space they need.",
    remediation="Set `read_only: true` and `tmpfs: [/tmp]`; put caches and weights on named volumes.",
    benchmarks=(bench(CIS_DOCKER, "5.13"),),
    check=check,
    tags=("compose", "immutability"),
)
