"""A security.base_images row must replace an image the bundle runs or builds from: a row for a runtime or target
the deployment does not use would be accepted and change nothing."""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.images import parse_image, pins_table


def _in_bundle(digest: str, files: dict[str, str]) -> bool:
    return any(digest in text for text in files.values())


def unused_image_problems(spec: DeploymentSpec, files: dict[str, str]) -> list[Problem]:
    """One problem per base_images row whose image no rendered file names (every reference carries its digest)."""
    overrides = spec.security.base_images
    unused = sorted(key for key, image in overrides.items() if not _in_bundle(parse_image(image).digest, files))
    if not unused:
        return []
    used = sorted(key for key, pin in pins_table().items()
                  if key not in unused and _in_bundle(parse_image(overrides[key]).digest if key in overrides
                                                      else pin.image.digest, files))
    return [Problem(f"security.base_images.{key}", "replaces an image this deployment never runs or builds from "
                    "(its runtime and targets do not use this row)",
                    allowed="rows this deployment uses: " + ", ".join(used),
                    hint="drop the row; an accepted field must change the output") for key in unused]
