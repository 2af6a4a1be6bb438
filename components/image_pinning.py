"""Pin rendered manifests to the digests `pulumi up` pushed, without the renderers knowing about Pulumi."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from slm_deploy.render.kubernetes import Manifest


def _pin(value: Any, refs: Mapping[str, pulumi.Input[str]]) -> Any:
    if isinstance(value, str):
        return refs.get(value, value)
    if isinstance(value, dict):
        return {key: _pin(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [_pin(item, refs) for item in value]
    return value


def pin_built_images(manifests: list[Manifest], refs: Mapping[str, pulumi.Input[str]]) -> list[Manifest]:
    """Copies of the manifests where each exact built-image name is replaced by its pushed name@digest."""
    return [_pin(manifest, refs) for manifest in manifests]

