"""Images a bundle builds itself, identified by the content tag of their build context."""

from __future__ import annotations

from pathlib import Path

from slm_deploy.render.images import source_tag


def verified_builds(root: Path) -> list[str]:
    """`<service>:src-<hash>` for each docker/<service>/ whose files hash to that tag, as render names them."""
    builds = []
    for context in sorted(p for p in (root / "docker").glob("*") if p.is_dir()):
        files = {p.relative_to(context).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted(context.rglob("*")) if p.is_file()}
        builds.append(f"{context.name}:{source_tag(files)}")
    return builds
