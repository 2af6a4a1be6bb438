"""Pin rendered manifests to the digests `pulumi up` pushed, without the renderers knowing about Pulumi."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.pinning import replace_values


def pin_built_images(manifests: list[Manifest], refs: Mapping[str, pulumi.Input[str]]) -> list[Manifest]:
    """Copies of the manifests where each exact built-image name is replaced by its pushed name@digest."""
    return [replace_values(manifest, refs) for manifest in manifests]

