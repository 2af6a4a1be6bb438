"""Serving: container images by digest, never latest."""

from __future__ import annotations

import re

from slm_deploy.policies.access import WORKLOAD_KINDS, containers
from slm_deploy.policies.model import TRIVY, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import services
from slm_deploy.policies.rules.docker_002_pinned_base_images import split_reference

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _built_here(image: str, verified: tuple[str, ...]) -> bool:
    """An image the bundle builds, named by the content tag its build context hashes to."""
    tag = split_reference(image)[1]
    repository = image.partition("@")[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return bool(tag) and f"{repository}:{tag}" in verified


def _problems(image, path: str, verified: tuple[str, ...]):
    """Violations for one image reference."""
    if not isinstance(image, str) or not image:
        yield f"{path}.image must be set"
        return
    if split_reference(image)[1] == "latest":
        yield f"{path}.image uses the latest tag"
    if not DIGEST.search(image) and not _built_here(image, verified):
        yield f"{path}.image must be pinned by @sha256 digest (or be built by this bundle under its content tag)"


def check(manifest, ctx):
    """Yield violations for images that are not pinned by digest."""
    verified = ctx.get_list("verifiedBuilds")
    if ctx.kind == "ComposeProject":
        for path, service in services(manifest):
            if service.get("image") is None and service.get("build") is not None:
                continue
            yield from _problems(service.get("image"), path, verified)
        return
    for path, container in containers(manifest, ctx.kind):
        if ctx.patch and container.get("image") is None:
            continue
        yield from _problems(container.get("image"), path, verified)


RULE = Rule(
    id="slm-serving-004",
    name="Every container image is pinned by sha256 digest and never uses latest.",
    severity=Severity.HIGH,
    controls=("S-image-digest", "K12"),
    kinds=WORKLOAD_KINDS | {"ComposeProject"},
    rationale="Tags are mutable; a digest guarantees that the image that was scanned and reviewed is the one "
              "that runs, on every node and every restart. Images a rendered bundle builds itself have no digest "
              "until they are pushed: the offline checker accepts them only under the src-<hash> tag their build "
              "context in the same bundle hashes to, and `pulumi up` deploys them by the pushed digest.",
    remediation="Reference images as registry/name:tag@sha256:<digest> (the generator's pins table does this); "
                "push bundle-built images to a registry with immutable tags, or deploy with Pulumi.",
    benchmarks=(bench(TRIVY, "KSV-0013"),),
    check=check,
    options=(Option("verifiedBuilds", {"type": "array", "items": {"type": "string"}, "default": []},
                    "<service>:src-<hash> names of images built from build contexts the checker verified"),),
    tags=("serving", "supply-chain"),
)
