"""Pin a rendered bundle to the digests its built images were pushed as: workloads, kustomizations, Compose.

Pure: bundle files in, bundle files out. manifest.json records each built image (`images`: context, name, extra
tags, digest); a bundle is either in the pre-build state (every digest null, workloads name `src-<hash>` tags)
or pinned (every digest set, every reference `name@digest`), never in between.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import yaml

from slm_deploy.errors import BundleError
from slm_deploy.policies.built_images import (COMPOSE_FILE, KUSTOMIZATION, MANIFEST, BuiltImage, built_images,
                                              compose_context)
from slm_deploy.render.serialize import to_json, to_yaml, to_yaml_documents


def replace_values(value: Any, refs: Mapping[str, Any]) -> Any:
    """Every string in a YAML-shaped value that is a key of `refs` swapped for its value (image references)."""
    if isinstance(value, str):
        return refs.get(value, value)
    if isinstance(value, dict):
        return {key: replace_values(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_values(item, refs) for item in value]
    return value


def _pin_compose(project: dict[str, Any], pinned: Mapping[str, BuiltImage], refs: Mapping[str, str]) -> dict:
    """Services that built from a context pull its pushed digest instead (the `build:` key becomes `image:`)."""
    services = {}
    for name, service in project.get("services", {}).items():
        image = pinned.get(compose_context(service) or "")
        if image is not None:
            service = {("image" if key == "build" else key): (image.reference if key == "build" else value)
                       for key, value in service.items() if key != "image"}
        services[name] = replace_values(service, refs)
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
            out[path] = _dump([replace_values(d, refs) for d in _documents(text)])
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
