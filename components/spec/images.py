"""Image references pinned by tag and digest, and the pins table they default to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from slm_deploy.image_reference import DIGEST, NAME, TAG
from slm_deploy.pins.table import read_pins

IMAGE_PATTERN = f"^{NAME}:{TAG}@{DIGEST}$"
"""name:tag@sha256:digest, as the published schema states it (no named groups, so editors can use it)."""
_REFERENCE = re.compile(f"^(?P<name>{NAME}):(?P<tag>{TAG})@(?P<digest>{DIGEST})$")
_DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """An image the output runs, pinned by a human-readable tag and an immutable digest."""

    name: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        """The form every target accepts: name:tag@digest."""
        return f"{self.name}:{self.tag}@{self.digest}"

    @property
    def registry(self) -> str:
        """The registry host, defaulting to Docker Hub as Docker does."""
        first = self.name.split("/", 1)[0]
        return first if ("." in first or ":" in first or first == "localhost") else _DEFAULT_REGISTRY

    def mirrored(self, mirror: str | None) -> "ImageRef":
        """Re-home the image under a registry mirror, keeping tag and digest (air-gapped sites)."""
        if not mirror:
            return self
        path = self.name
        if self.registry != _DEFAULT_REGISTRY or path.startswith(f"{_DEFAULT_REGISTRY}/"):
            path = path.split("/", 1)[1]
        return ImageRef(f"{mirror.rstrip('/')}/{path}", self.tag, self.digest)


def parse_image(text: str) -> ImageRef:
    """Parse name:tag@sha256:...; refuses `latest` and references without a digest."""
    match = _REFERENCE.match(text)
    if not match:
        if "@sha256:" not in text:
            raise ValueError("must be pinned by digest: name:tag@sha256:<64 hex>")
        raise ValueError("must look like registry/repository:tag@sha256:<64 hex>")
    if match["tag"] == "latest":
        raise ValueError("the tag 'latest' is mutable; name an explicit version tag")
    return ImageRef(match["name"], match["tag"], match["digest"])


def _check_image(text: str) -> str:
    parse_image(text)
    return text


PinnedImage = Annotated[str, StringConstraints(pattern=IMAGE_PATTERN), AfterValidator(_check_image)]
"""A spec field holding name:tag@sha256:digest."""


@dataclass(frozen=True)
class Pin:
    """One row of the pins table: the image and the public records that show its digest."""

    key: str
    image: ImageRef
    sources: tuple[str, ...]


@lru_cache(maxsize=1)
def pins_table() -> dict[str, Pin]:
    """Load the pins table shipped with the package (one place for every default image)."""
    path = Path(str(resources.files("slm_deploy.runtimes").joinpath("pins.yaml")))
    return {row.key: Pin(row.key, parse_image(f"{row.image}:{row.tag}@{row.digest}"), row.sources)
            for row in read_pins(path)}


def pinned_row(key: str, overrides: Mapping[str, str], mirror: str | None) -> ImageRef:
    """A row of the pins table: the spec's security.base_images override as given, else the row under the mirror."""
    override = overrides.get(key)
    return parse_image(override) if override else pins_table()[key].image.mirrored(mirror)
