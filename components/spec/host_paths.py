"""Host folders a container may see: one pure predicate for the spec's local model folders and for the Compose
rule that judges a rendered project's bind mounts (no pydantic, so the policy pack imports it on its own)."""

from __future__ import annotations

import posixpath

DATA_ROOTS = ("/srv", "/data", "/mnt", "/opt/models")
"""Where a host keeps data it serves: /srv (the FHS home of served data), /data and /mnt (attached disks) and
/opt/models. An absolute host folder is mountable only strictly inside one of them: an allow-list, since the
folders that hold credentials and system state (home directories, /etc, /var/lib/<engine>, /var/log...) are
too many to list."""
DATA_ROOTS_TEXT = ", ".join(f"{root}/..." for root in DATA_ROOTS)


def has_parent_step(path: str) -> bool:
    """Whether a path climbs with `..`: where it lands depends on where it is resolved from."""
    return ".." in path.split("/")


def _hidden_or_socket(path: str) -> bool:
    """Whether a step is hidden (.ssh, .docker, .kube, .aws, .config: where tools keep credentials) or a socket."""
    steps = [step for step in path.split("/") if step not in ("", ".", "..")]
    return any(step.startswith(".") or step.endswith(".sock") for step in steps)


def mountable(path: str) -> bool:
    """Whether an absolute host folder lies strictly inside a data root, with no `..`, hidden or socket step."""
    if not path.startswith("/") or has_parent_step(path) or _hidden_or_socket(path) or not _fits_linux(path):
        return False
    normal = "/" + posixpath.normpath(path).lstrip("/")
    return any(normal.startswith(root + "/") for root in DATA_ROOTS)


def _fits_linux(path: str) -> bool:
    """Linux's limits: 255 bytes per name (NAME_MAX), 4096 per path (PATH_MAX)."""
    encoded = path.encode("utf-8", "surrogatepass")
    return len(encoded) < 4096 and all(len(step) <= 255 for step in encoded.split(b"/"))


def inside_bundle(source: str, base: str) -> bool:
    """Whether a relative host path, resolved from the folder `base` inside the bundle, stays in the bundle and
    has no hidden or socket step."""
    if source.startswith(("/", "~", "$")) or _hidden_or_socket(source):
        return False
    return posixpath.normpath(posixpath.join(base, source)).split("/")[0] != ".."


def bind_source_allowed(source: str, base: str) -> bool:
    """Whether a bind mount's host side may reach a container: a bundle file, or a folder inside a data root."""
    return mountable(source) if source.startswith("/") else inside_bundle(source, base)
