"""Compose: no Docker socket, and host folders only from the bundle or a data root."""

from __future__ import annotations

import re
from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.spec.host_paths import DATA_ROOTS_TEXT, bind_source_allowed
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

COMPOSE_FOLDER = "compose"
"""Where compose.yaml sits in a bundle: relative sources resolve from here."""
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
"""Compose's pattern for a named volume; any other short-syntax source is a host path (or an interpolation)."""


def _source(volume) -> str | None:
    """The host path of a bind mount, or None for named volumes, anonymous volumes and tmpfs."""
    if isinstance(volume, Mapping):
        return str(volume.get("source")) if volume.get("type") == "bind" else None
    text = str(volume)
    if ":" not in text:
        return None
    source = text.split(":", 1)[0]
    return None if VOLUME_NAME.match(source) else source


def _bound_device(volume) -> str | None:
    """The host folder a top-level volume binds through the local driver's options (o: bind, device: ...)."""
    options = mapping(get(volume, "driver_opts"))
    flags = str(options.get("o", "")).split(",")
    binds = "bind" in flags or "rbind" in flags or str(options.get("type", "")) == "none"
    return str(options.get("device")) if binds and options.get("device") is not None else None


def check(project, ctx):
    """Yield violations for use_api_socket and for host paths outside the bundle and the data roots, whether
    bind-mounted, bound through a named volume's options or mounted as a secret's or config's file."""
    for path, service in services(project):
        if service.get("use_api_socket") is True:
            yield f"{path}.use_api_socket gives the container the Docker API"
        for index, volume in enumerate(items(service.get("volumes"))):
            source = _source(volume)
            if source is not None and not bind_source_allowed(source, COMPOSE_FOLDER):
                yield f"{path}.volumes[{index}] bind-mounts a host path outside the bundle and the data roots"
    volumes = mapping(get(project, "volumes"))
    for name in sorted(str(key) for key in volumes.keys()):
        device = _bound_device(volumes.get(name))
        if device is not None and not bind_source_allowed(device, COMPOSE_FOLDER):
            yield f"volumes.{name} binds a host path outside the bundle and the data roots"
    for section in ("secrets", "configs"):
        entries = mapping(get(project, section))
        for name in sorted(str(key) for key in entries.keys()):
            source = get(entries.get(name), "file")
            if source is not None and not bind_source_allowed(str(source), COMPOSE_FOLDER):
                yield f"{section}.{name}.file mounts a host file outside the bundle and the data roots"


RULE = Rule(
    id="slm-compose-012",
    name="No Compose service mounts the Docker socket or a host folder outside the bundle and the data roots.",
    severity=Severity.CRITICAL,
    controls=("C-host-mounts",),
    kinds=KINDS,
    rationale="The Docker socket is root on the host; home directories, /etc, /proc, /var/lib/<engine>, /var/log "
              "and hidden folders such as .ssh, .docker or .kube expose credentials, host configuration and "
              "kernel interfaces. Host folders are allowed from a list, because those to refuse are too many to "
              "name.",
    remediation="Use named volumes for caches and bind-mount only files of the bundle or a model folder strictly "
                f"inside a data root ({DATA_ROOTS_TEXT}) with no '..' or hidden step, read-only.",
    benchmarks=(bench(CIS_DOCKER, "5.5", "5.31"),),
    check=check,
    tags=("compose", "isolation"),
)
