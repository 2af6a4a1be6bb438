"""Compose: no Docker socket or sensitive host paths."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import items
from slm_deploy.spec.host_paths import escapes, sensitive
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

COMPOSE_FOLDER = "compose"
"""Where compose.yaml sits in a bundle: relative sources resolve from here."""


def _source(volume) -> str | None:
    """The host path of a bind mount, or None for named volumes and tmpfs."""
    if isinstance(volume, Mapping):
        return str(volume.get("source")) if volume.get("type") == "bind" else None
    text = str(volume)
    if ":" not in text:
        return None
    source = text.split(":", 1)[0]
    return source if source.startswith(("/", ".", "~")) else None


def _sensitive(source: str) -> bool:
    """Whether a host path is the Docker socket, a system directory, or a path that climbs out of the bundle."""
    return sensitive(source) or escapes(source, COMPOSE_FOLDER)


def check(project, ctx):
    """Yield violations for bind mounts of the Docker socket or system paths, and use_api_socket."""
    for path, service in services(project):
        if service.get("use_api_socket") is True:
            yield f"{path}.use_api_socket gives the container the Docker API"
        for index, volume in enumerate(items(service.get("volumes"))):
            source = _source(volume)
            if source is not None and _sensitive(source):
                yield f"{path}.volumes[{index}] bind-mounts the Docker socket, a system directory or a path outside the bundle"


RULE = Rule(
    id="slm-compose-012",
    name="No Compose service mounts the Docker socket or sensitive host directories.",
    severity=Severity.CRITICAL,
    controls=("C-host-mounts",),
    kinds=KINDS,
    rationale="The Docker socket is root on the host; /etc, /proc, /sys and friends expose host "
              "configuration and kernel interfaces.",
    remediation="Use named volumes for weights and caches and bind-mount only project files, read-only.",
    benchmarks=(bench(CIS_DOCKER, "5.5", "5.31"),),
    check=check,
    tags=("compose", "isolation"),
)
