"""Stand-ins for the pinned Prometheus and Alertmanager images, made from Debian's own packages.

The upstream images cannot be pulled here. The bundle copies `/bin/prometheus`, `/bin/promtool`,
`/bin/alertmanager` and `/bin/amtool` out of them onto the pinned Debian base, so an image that holds
Debian's binaries at those paths, pushed to the local registry and pinned by its digest through the spec's
`security.base_images`, lets the rendered Dockerfiles build and run exactly as written.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from .docker_engine import docker, docker_build
from .registry import RegistryError, manifest_digest
from .tools import find_executable

BINARIES = {
    "prometheus": {"prometheus": ("prometheus", "apt-get install prometheus"),
                   "promtool": ("promtool", "apt-get install prometheus")},
    "alertmanager": {"alertmanager": ("prometheus-alertmanager", "apt-get install prometheus-alertmanager"),
                     "amtool": ("amtool", "apt-get install prometheus-alertmanager")},
}
REPOSITORY = "slm-test/debian-{key}"


def _publish(registry: str, key: str) -> str:
    sources = {name: Path(find_executable(program, hint)) for name, (program, hint) in BINARIES[key].items()}
    digest = hashlib.sha256()
    for name, path in sorted(sources.items()):
        digest.update(name.encode() + path.read_bytes())
    tag = digest.hexdigest()[:16]
    repository = REPOSITORY.format(key=key)
    remote = f"{registry}/{repository}:{tag}"
    pinned = manifest_digest(registry, repository, tag)
    if pinned is None:
        with tempfile.TemporaryDirectory(prefix=f"slm-{key}-") as scratch:
            context = Path(scratch)
            for name, path in sources.items():
                shutil.copy2(path, context / name)
            (context / "Dockerfile").write_text(f"FROM scratch\nCOPY {' '.join(sorted(sources))} /bin/\n")
            docker_build(context, remote)
        docker("push", remote)
        pinned = manifest_digest(registry, repository, tag)
        if pinned is None:
            raise RegistryError(f"{remote} is missing from the registry right after a push")
    return f"{remote}@{pinned}"


def publish_debian_monitoring_images(registry: str) -> dict[str, str]:
    """Pins rows (`prometheus`, `alertmanager`) -> digest-pinned references of the Debian-built stand-ins."""
    return {key: _publish(registry, key) for key in BINARIES}
