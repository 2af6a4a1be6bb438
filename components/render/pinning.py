"""Pin a rendered bundle to the digests its built images were pushed as: workloads, kustomizations, Compose.

Pure: bundle files in, bundle files out. manifest.json records each built image (`images`: context, name, extra
tags, digest); a bundle is either in the pre-build state (every digest null, workloads name `src-<hash>` tags)
or pinned (every digest set, every reference `name@digest`), never in between.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from slm_deploy.errors import BundleError
from slm_deploy.render.serialize import to_json, to_yaml, to_yaml_documents

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


def _replace_values(value: Any, refs: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return refs.get(value, value)
    if isinstance(value, dict):
        return {key: _replace_values(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_values(item, refs) for item in value]
    return value


def compose_context(service: Mapping[str, Any]) -> str | None:
    """The bundle folder a Compose service builds from (`../docker/<service>`), if it builds."""
    build = service.get("build")
    context = build.get("context") if isinstance(build, Mapping) else build
    return context.removeprefix("../") if isinstance(context, str) else None


def _pin_compose(project: dict[str, Any], pinned: Mapping[str, BuiltImage], refs: Mapping[str, str]) -> dict:
    """Services that built from a context pull its pushed digest instead (the `build:` key becomes `image:`)."""
    services = {}
    for name, service in project.get("services", {}).items():
        image = pinned.get(compose_context(service) or "")
        if image is not None:
            service = {("image" if key == "build" else key): (image.reference if key == "build" else value)
                       for key, value in service.items() if key != "image"}
        services[name] = _replace_values(service, refs)
    return {**project, "services": services}


def _pin_kustomization(kustomization: dict[str, Any], images: list[BuiltImage]) -> dict[str, Any]:
    """kustomize's `images:` for the built images this kustomization's resources use, set to the pushed digest."""
    entries = [{"name": image.repository, "newName": image.repository, "digest": image.digest} for image in images]
    body = {key: value for key, value in kustomization.items() if key != "images"}
    return {**body, "images": entries} if entries else body


def _documents(text: str) -> list[Any]:
    return [document for document in yaml.safe_load_all(text) if document is not None]


def _dump(documents: list[Any]) -> str:
    return to_yaml(documents[0]) if len(documents) == 1 else to_yaml_documents(documents)


def pin_bundle(files: Mapping[str, str], digests: Mapping[str, str]) -> dict[str, str]:
    """The bundle's files with every built image referenced by its pushed digest and manifest.json updated to
    match (each image's digest, each rewritten file's sha256); `digests` maps each built service to sha256:..."""
    manifest = json.loads(files[MANIFEST])
    images = built_images(manifest)
    if {image.owner for image in images} != set(digests):
        raise BundleError("every image the bundle builds must be pushed before the bundle is pinned")
    pushed = [BuiltImage(i.owner, i.context, i.name, i.tags, digests[i.owner]) for i in images]
    refs = {old.reference: new.reference for old, new in zip(images, pushed)}
    pinned = {image.context: image for image in pushed}
    out = dict(files)
    for path, text in files.items():
        if path == COMPOSE_FILE:
            out[path] = to_yaml(_pin_compose(yaml.safe_load(text), pinned, refs))
        elif path.startswith("kubernetes/") and path.endswith(".yaml") and not path.endswith(KUSTOMIZATION):
            out[path] = _dump([_replace_values(d, refs) for d in _documents(text)])
    for path, text in files.items():
        if path.startswith("kubernetes/") and path.endswith(KUSTOMIZATION):
            folder = path.removesuffix(KUSTOMIZATION)
            kustomization = yaml.safe_load(text)
            used = "".join(out.get(folder + resource, "") for resource in kustomization.get("resources", []))
            out[path] = to_yaml(_pin_kustomization(kustomization, [i for i in pushed if i.reference in used]))
    manifest["images"] = {i.owner: {"context": i.context, "name": i.name, "tags": list(i.tags), "digest": i.digest}
                          for i in pushed}
    manifest["files"] = {**manifest["files"], **{path: hashlib.sha256(text.encode()).hexdigest()
                                                   for path, text in out.items()
                                                   if path != MANIFEST and text != files[path]}}
    out[MANIFEST] = to_json(manifest)
    return out
