"""What manifest.json records about the images a bundle builds, read the same way by `check` and by
`slm-deploy build`: each built image's context, content-tagged name, extra tags and pushed digest."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slm_deploy.errors import BundleError

MANIFEST = "manifest.json"
COMPOSE_FILE = "compose/compose.yaml"
KUSTOMIZATION = "kustomization.yaml"
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9.:/_-]*:src-[0-9a-f]{16}$")
TAGGED_NAME = re.compile(r"^[a-z0-9][a-z0-9.:/_-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class BuiltImage:
    """One image the bundle builds, as manifest.json records it."""

    owner: str
    context: str
    name: str
    tags: tuple[str, ...]
    digest: str | None

    @property
    def repository(self) -> str:
        """The name without its tag: what kustomize's `images:` matches and `docker push` pushes to."""
        return self.name.rsplit(":", 1)[0]

    @property
    def reference(self) -> str:
        """What workloads reference: the pushed digest once pinned, else the content tag."""
        return f"{self.name}@{self.digest}" if self.digest else self.name


def _refuse(what: str) -> BundleError:
    return BundleError(f"{MANIFEST}: {what}\n  hint: re-render the bundle with `slm-deploy render`")


def built_images(manifest: Mapping[str, Any] | None) -> list[BuiltImage]:
    """The images manifest.json records, checked for shape (a bundle from an older release records none)."""
    record = (manifest or {}).get("images")
    if record is None:
        return []
    if not isinstance(record, Mapping):
        raise _refuse("images must map each built service to {context, name, tags, digest}")
    images = []
    for owner, entry in sorted(record.items()):
        if not isinstance(entry, Mapping) or not all(isinstance(entry.get(k), str) for k in ("context", "name")):
            raise _refuse("each entry of images needs a context and a name")
        digest = entry.get("digest")
        if digest is not None and not (isinstance(digest, str) and _is_digest(digest)):
            raise _refuse("an image digest must be null or sha256:<64 hex>")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _refuse("the tags of a built image must be a list of names")
        if not SERVICE_NAME.match(str(owner)) or entry["context"] != f"docker/{owner}":
            raise _refuse("a built image's context must be docker/<its service>")
        if not IMAGE_NAME.match(entry["name"]) or not all(TAGGED_NAME.match(tag) for tag in tags):
            raise _refuse("a built image's name must be registry/repository/service:src-<16 hex>, "
                          "its tags the same repository under other tags")
        images.append(BuiltImage(str(owner), entry["context"], entry["name"], tuple(tags), digest))
    return images


def _is_digest(value: str) -> bool:
    hex_part = value.removeprefix("sha256:")
    return value.startswith("sha256:") and len(hex_part) == 64 and all(c in "0123456789abcdef" for c in hex_part)


def build_state(images: list[BuiltImage]) -> str:
    """`none` (nothing built here), `pre-build`, `pinned`, or `half-pinned` (some digests recorded, not all)."""
    if not images:
        return "none"
    pinned = sum(1 for image in images if image.digest)
    return "pre-build" if pinned == 0 else "pinned" if pinned == len(images) else "half-pinned"


def compose_context(service: Mapping[str, Any]) -> str | None:
    """The bundle folder a Compose service builds from (`../docker/<service>`), if it builds."""
    build = service.get("build")
    context = build.get("context") if isinstance(build, Mapping) else build
    return context.removeprefix("../") if isinstance(context, str) else None
