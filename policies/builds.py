"""Images a bundle builds itself, identified by the content tag of their build context."""

from __future__ import annotations

import hashlib
from pathlib import Path


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
