"""Serving: container images by digest, never latest."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers
from slm_deploy.policies.model import TRIVY, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import services
from slm_deploy.image_reference import PINNED_BY_DIGEST
from slm_deploy.policies.rules.docker_002_pinned_base_images import split_reference
from slm_deploy.policies.built_images import compose_context


def _built_here(image: str, verified: tuple[str, ...]) -> bool:
    """An image the bundle builds, named by the content tag its build context hashes to."""
    tag = split_reference(image)[1]
    repository = image.partition("@")[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return bool(tag) and f"{repository}:{tag}" in verified


def _recorded(image: str, built) -> dict | None:
    """The bundle's record of the image this reference names (same repository), if the bundle builds it."""
    name = image.partition("@")[0]
    for entry in built:
        repository = str(entry.get("name", "")).rsplit(":", 1)[0]
        if name == repository or name.startswith(f"{repository}:"):
            return entry
    return None


def _built_image_problems(image: str, path: str, entry, verified: tuple[str, ...]):
    """A built image: its content tag before the push, exactly the recorded digest after it."""
    digest = entry.get("digest")
    if digest is None and PINNED_BY_DIGEST.match(image):
        yield f"{path}.image names a digest, but manifest.json records this built image as not pushed"
    elif digest is None and not _built_here(image, verified):
        yield f"{path}.image must be the content tag its build context hashes to (or run `slm-deploy build --push`)"
    elif digest is not None and image != f"{entry.get('name')}@{digest}":
        yield f"{path}.image must be the pushed digest manifest.json records for this built image"


def _problems(image, path: str, verified: tuple[str, ...], built=()):
    """Violations for one image reference."""
    if not isinstance(image, str) or not image:
        yield f"{path}.image must be set"
        return
    if split_reference(image)[1] == "latest":
        yield f"{path}.image uses the latest tag"
    entry = _recorded(image, built)
    if entry is not None:
        yield from _built_image_problems(image, path, entry, verified)
    elif not PINNED_BY_DIGEST.match(image) and not _built_here(image, verified):
        yield f"{path}.image must be pinned by @sha256 digest (or be built by this bundle under its content tag)"


def _pushed_context(service, built) -> bool:
    """A Compose service that still builds locally from a context whose image manifest.json records as pushed."""
    folder = compose_context(service)
    return any(entry.get("context") == folder and entry.get("digest") for entry in built)


def check(manifest, ctx):
    """Yield violations for images that are not pinned by digest."""
    verified = ctx.get_list("verifiedBuilds")
    built = [entry for entry in (ctx.get("builtImages") or ()) if hasattr(entry, "get")]
    if ctx.kind == "ComposeProject":
        for path, service in services(manifest):
            if service.get("build") is not None and _pushed_context(service, built):
                yield f"{path} builds locally, but manifest.json pins its image to a pushed digest"
            elif service.get("image") is None and service.get("build") is not None:
                continue
            else:
                yield from _problems(service.get("image"), path, verified, built)
        return
    for path, container in containers(manifest, ctx.kind):
        if ctx.patch and container.get("image") is None:
            continue
        yield from _problems(container.get("image"), path, verified, built)


RULE = Rule(
    id="slm-serving-004",
    name="Every container image is pinned by sha256 digest and never uses latest.",
    severity=Severity.HIGH,
    controls=("S-image-digest", "K12"),
    kinds=WORKLOAD_KINDS | {"ComposeProject"},
    rationale="Tags are mutable; a digest guarantees that the image that was scanned and reviewed is the one "
              "that runs, on every node and every restart. Images a rendered bundle builds itself have no digest "
              "until they are pushed: the offline checker accepts them under the src-<hash> tag their build "
              "context in the same bundle hashes to while manifest.json records them as not pushed, and only by "
              "the recorded digest once `slm-deploy build --push` pinned the bundle; `pulumi up` deploys them "
              "by the pushed digest.",
    remediation="Reference images as registry/name:tag@sha256:<digest> (the generator's pins table does this); "
                "run `slm-deploy build BUNDLE --push` to pin bundle-built images, or deploy with Pulumi.",
    benchmarks=(bench(TRIVY, "KSV-0013"),),
    check=check,
    options=(Option("verifiedBuilds", {"type": "array", "items": {"type": "string"}, "default": []},
                    "<service>:src-<hash> names of images built from build contexts the checker verified"),
             Option("builtImages", {"type": "array", "items": {"type": "object"}, "default": []},
                    "the images the bundle builds, as manifest.json records them ({context, name, digest}): "
                    "referenced by content tag until pushed, then only by the recorded digest")),
    tags=("serving", "supply-chain"),
)
