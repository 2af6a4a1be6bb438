"""Images a bundle builds itself: identified by the content tag of their build context before the build, by the
digest manifest.json records once `slm-deploy build --push` pinned the bundle."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from slm_deploy.policies.built_images import KUSTOMIZATION, MANIFEST, BuiltImage, build_state, built_images


def source_tag(context: dict[str, str]) -> str:
    """A tag that changes exactly when the build context changes (src-<16 hex of its sha256>); `render` tags
    builds with it, and the checker recomputes it, so the definition lives with the checker."""
    digest = hashlib.sha256()
    for path, text in sorted(context.items()):
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    return f"src-{digest.hexdigest()[:16]}"


def verified_builds(root: Path) -> list[str]:
    """`<service>:src-<hash>` for each docker/<service>/ whose files hash to that tag, as render names them."""
    builds = []
    for context in sorted(p for p in (root / "docker").glob("*") if p.is_dir()):
        files = {p.relative_to(context).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted(context.rglob("*")) if p.is_file()}
        builds.append(f"{context.name}:{source_tag(files)}")
    return builds


def built_image_options(images: list[BuiltImage]) -> list[dict[str, Any]]:
    """The built images as the image-digest rule's option: what each workload must reference."""
    return [{"context": i.context, "name": i.name, "digest": i.digest} for i in images]


def _kustomization_problems(root: Path, images: list[BuiltImage]) -> list[tuple[str, str]]:
    """A kustomization's `images:` must pin exactly the recorded digests (and exist only once pinned)."""
    recorded = {i.name.rsplit(":", 1)[0]: i.digest for i in images}
    problems = []
    for path in sorted((root / "kubernetes").rglob(KUSTOMIZATION)):
        location = path.relative_to(root).as_posix()
        try:
            entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("images") or []
        except (yaml.YAMLError, AttributeError, OSError):
            problems.append((location, "is not a readable kustomization"))
            continue
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping) or entry.get("name") not in recorded:
                continue
            name = entry["name"]
            if recorded[name] is None:
                problems.append((location, f"images: pins {name} although {MANIFEST} records it as not pushed"))
            elif entry.get("digest") != recorded[name] or entry.get("newName", name) != name:
                problems.append((location, f"images: {name} is not pinned to the digest {MANIFEST} records"))
    return problems


def build_state_problems(root: Path, manifest: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(location, message) for a bundle neither in the pre-build state nor fully pinned to its pushed digests."""
    images = built_images(manifest)
    if build_state(images) == "half-pinned":
        unpinned = ", ".join(i.owner for i in images if not i.digest)
        return [(MANIFEST, f"records pushed digests for some built images but not for {unpinned}; "
                           "run `slm-deploy build --push` again or re-render")]
    return _kustomization_problems(root, images)
