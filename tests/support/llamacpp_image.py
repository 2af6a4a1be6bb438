"""A stand-in for the pinned llama.cpp CPU server image, laid out as upstream's own Dockerfile lays it out.

The upstream image cannot be pulled here, so this one is assembled from upstream's recipe at the same
build (``.devops/cpu.Dockerfile`` in the source the binaries were built from): the same packages as its
``base`` stage, the server binary where its ``server`` stage copies it (``/app``), and that stage's
ENV, WORKDIR, HEALTHCHECK and ENTRYPOINT copied verbatim. It runs as root like upstream, and carries
no Python, which upstream's server image does not have either, so a rendered command that needs a
tool upstream lacks fails here too. It is built on the suite's debootstrap base and pushed to the
local registry, so specs reference it by a real digest through ``security.base_images.llamacpp``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .base_image import BaseImage
from .cache import exclusive
from .docker_engine import docker_build, image_exists
from .llamacpp_build import LlamaCppBuild
from .registry import publish_image

UPSTREAM_DOCKERFILE = ".devops/cpu.Dockerfile"
REPOSITORY = "ggml-org/llama.cpp"
VERBATIM = ("ENV", "WORKDIR", "HEALTHCHECK", "ENTRYPOINT")
NOT_PROVIDED = {"llama": "the unified CLI binary; nothing slm-deploy renders runs it"}
"""Files upstream's server stage copies that the stand-in leaves out, and why."""
REMOVE_PYTHON = (
    "apt-get purge -y --auto-remove $(dpkg-query -W -f='${binary:Package}\\n' | grep -E '^(lib)?python3')"
)


class UpstreamRecipeChanged(RuntimeError):
    """Upstream's Dockerfile has a shape this stand-in does not reproduce yet."""


@dataclass(frozen=True)
class StandInImage:
    """The image by its local tag and by the digest-pinned reference a spec uses."""

    local_tag: str
    reference: str
    dockerfile: str


def stages(dockerfile: str) -> dict[str, list[tuple[str, str]]]:
    """Instructions per named stage, continuation lines joined: {stage: [(INSTRUCTION, arguments)]}."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            name = re.search(r"\bAS\s+(\S+)", arguments, re.IGNORECASE)
            current = found.setdefault(name.group(1) if name else f"stage{len(found)}", [])
        elif current is not None:
            current.append((instruction.upper(), arguments.strip()))
    return found


def upstream_packages(recipe: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The Debian/Ubuntu packages upstream's base stage installs (libgomp1, curl, ffmpeg at b10133)."""
    packages: list[str] = []
    for instruction, arguments in recipe.get("base", []):
        if instruction == "RUN":
            for match in re.finditer(r"apt-get install -y ([^&;]+)", arguments):
                packages += [word for word in match.group(1).split() if not word.startswith("-")]
    if not packages:
        raise UpstreamRecipeChanged(f"{UPSTREAM_DOCKERFILE}: no apt-get install in the base stage")
    return packages


def server_binaries(recipe: dict[str, list[tuple[str, str]]]) -> tuple[list[str], str]:
    """The binaries upstream's server stage copies from the build stage, and where to."""
    for instruction, arguments in recipe.get("server", []):
        if instruction == "COPY" and arguments.startswith("--from=build "):
            *sources, destination = arguments.split()[1:]
            return [Path(source).name for source in sources], destination
    raise UpstreamRecipeChanged(f"{UPSTREAM_DOCKERFILE}: the server stage copies no binaries")


def stand_in_dockerfile(build: LlamaCppBuild, base: BaseImage) -> str:
    """Upstream's server image, rebuilt from its own recipe on the suite's base with the binaries built here."""
    recipe = stages((build.source / UPSTREAM_DOCKERFILE).read_text())
    binaries, destination = server_binaries(recipe)
    unknown = sorted(set(binaries) - set(NOT_PROVIDED) - {build.server.name})
    if unknown:
        raise UpstreamRecipeChanged(f"upstream's server stage copies {unknown}, which the stand-in does not build")
    provided = [name for name in binaries if name not in NOT_PROVIDED]
    lines = [
        f"# Stand-in for {REPOSITORY}:server-b{build.build_number}, from its {UPSTREAM_DOCKERFILE}.",
        f"FROM {base.reference}",
        f"RUN {REMOVE_PYTHON} \\",
        " && apt-get update \\",
        f" && apt-get install -y --no-install-recommends {' '.join(upstream_packages(recipe))} \\",
        " && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*",
        f"COPY {' '.join(provided)} {destination.rstrip('/')}/",
        f'LABEL org.opencontainers.image.version="b{build.build_number}" \\',
        f'      org.opencontainers.image.revision="{build.commit}" \\',
        '      org.opencontainers.image.title="llama.cpp"',
    ]
    lines += [f"{instruction} {arguments}" for instruction, arguments in recipe["server"] if instruction in VERBATIM]
    return "\n".join(lines) + "\n"


def stand_in_image(build: LlamaCppBuild, base: BaseImage, registry: str) -> StandInImage:
    """Build (once per recipe) and push the stand-in; its reference carries the registry's digest."""
    dockerfile = stand_in_dockerfile(build, base)
    content = hashlib.sha256(dockerfile.encode() + build.server.read_bytes()).hexdigest()[:16]
    local_tag = f"slm-test/llama.cpp:server-b{build.build_number}-{content}"
    with exclusive(f"llamacpp-image-{content}"):
        if not image_exists(local_tag):
            with tempfile.TemporaryDirectory(prefix="llamacpp-image-") as scratch:
                context = Path(scratch)
                (context / "Dockerfile").write_text(dockerfile)
                shutil.copy2(build.server, context / build.server.name)
                docker_build(context, local_tag)
    reference = publish_image(local_tag, registry, REPOSITORY, f"server-b{build.build_number}")
    return StandInImage(local_tag, reference, dockerfile)
