"""Build the suite's Debian base image locally (nothing can be pulled) and publish it with a real digest.

Recipe: ``debootstrap --variant=minbase`` of bookworm from the mirror this machine's apt uses, trimmed,
tarred and ``docker import``-ed as ``slm-test/bookworm:<recipe hash>``, then pushed to the local
registry so specs can reference it as ``127.0.0.1:<port>/slm-test/bookworm:<tag>@sha256:<digest>``
through the spec's base-image override. The rootfs tarball and the image are cached by recipe hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_root, exclusive
from .docker_engine import docker, image_exists, require_docker
from .registry import ensure_local_registry, publish_image
from .tools import run, tail, unavailable

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("ca-certificates", "curl", "python3", "python3-venv")
REPOSITORY = "slm-test/bookworm"
RECIPE_VERSION = 1
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["bash"]',
)
TRIMMED_PATHS = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
)
HOST_SPECIFIC_FILES = ("etc/hostname", "etc/resolv.conf")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_TIMEOUT = 1800


@dataclass(frozen=True)
class BaseImage:
    """The suite's base image: its local tag and its digest-pinned registry reference."""

    local_tag: str
    reference: str

    @property
    def digest(self) -> str:
        """The manifest digest the registry serves, `sha256:...`."""
        return self.reference.rsplit("@", 1)[1]


def recipe_hash() -> str:
    """Key every cache on what shapes the image, so a changed recipe never reuses a stale one."""
    recipe = {
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "changes": IMAGE_CHANGES,
        "trimmed": TRIMMED_PATHS,
        "removed": HOST_SPECIFIC_FILES,
        "version": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def local_tag() -> str:
    """The engine-local name of the imported image."""
    return f"{REPOSITORY}:{recipe_hash()}"


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """Use the mirror apt already uses here (it is reachable), unless SLM_DEPLOY_DEBIAN_MIRROR says otherwise."""
    configured = os.environ.get("SLM_DEPLOY_DEBIAN_MIRROR")
    if configured:
        return configured
    for uri, suites, components in _apt_sources(apt_dir):
        if SUITE in suites and "main" in components and "security" not in uri:
            return uri
    return DEFAULT_MIRROR


def rootfs_tarball() -> Path:
    """Return the cached rootfs tarball, running debootstrap only when the recipe changed."""
    target = cache_root() / "base-images" / f"{SUITE}-{VARIANT}-{recipe_hash()}.tar"
    if target.is_file():
        return target
    with exclusive(f"rootfs-{recipe_hash()}"):
        if target.is_file():
            return target
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise unavailable("debootstrap", "not installed (apt-get install debootstrap)")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="rootfs-") as scratch:
            root = Path(scratch) / "root"
            bootstrap = run(
                [
                    debootstrap,
                    f"--variant={VARIANT}",
                    f"--include={','.join(sorted(PACKAGES))}",
                    SUITE,
                    str(root),
                    debian_mirror(),
                ],
                timeout=DEBOOTSTRAP_TIMEOUT,
            )
            if bootstrap.returncode != 0:
                raise RuntimeError(f"debootstrap failed ({bootstrap.returncode}):\n{tail(bootstrap.stdout + bootstrap.stderr)}")
            _trim(root)
            partial = Path(scratch) / "rootfs.tar"
            packed = run(
                ["tar", "--sort=name", "--numeric-owner", "--exclude=./dev/*", "-C", str(root), "-cf", str(partial), "."],
                timeout=600,
            )
            if packed.returncode != 0:
                raise RuntimeError(f"tar of the rootfs failed:\n{tail(packed.stderr)}")
            partial.replace(target)
    return target


def ensure_local_image() -> str:
    """Import the rootfs as an image unless the engine already holds this recipe's tag."""
    require_docker()
    tag = local_tag()
    if image_exists(tag):
        return tag
    with exclusive(f"import-{recipe_hash()}"):
        if not image_exists(tag):
            argv = ["import", "--message", f"debootstrap {VARIANT} {SUITE} recipe {recipe_hash()}"]
            for change in IMAGE_CHANGES:
                argv += ["--change", change]
            docker(*argv, str(rootfs_tarball()), tag)
    return tag


def publish_base_image(registry: str | None = None) -> BaseImage:
    """Push the base image to the local registry and return it pinned by the digest the registry serves."""
    tag = ensure_local_image()
    reference = publish_image(tag, registry or ensure_local_registry(), REPOSITORY, recipe_hash())
    return BaseImage(local_tag=tag, reference=reference)


def _trim(root: Path) -> None:
    """Drop package caches, docs and files copied from the build host; keep apt usable."""
    for relative in TRIMMED_PATHS:
        folder = root / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    if child.name != "partial":
                        shutil.rmtree(child)
                else:
                    child.unlink()
    for pkgcache in (root / "var/cache/apt").glob("*.bin"):
        pkgcache.unlink()
    for relative in HOST_SPECIFIC_FILES:
        (root / relative).unlink(missing_ok=True)


def _apt_sources(apt: Path) -> list[tuple[str, set[str], set[str]]]:
    """Read apt's one-line and deb822 sources as (uri, suites, components) for binary packages."""
    entries: list[tuple[str, set[str], set[str]]] = []
    one_line = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            fields = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(fields) >= 3 and fields[0] == "deb":
                entries.append((fields[1].rstrip("/"), {fields[2]}, set(fields[3:])))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split():
                for uri in fields.get("uris", "").split():
                    entries.append((uri.rstrip("/"), set(fields.get("suites", "").split()), set(fields.get("components", "").split())))
    return entries
