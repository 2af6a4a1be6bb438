"""Host paths a container must never see: one predicate for the spec's local model folders and for the
Compose rule that judges a rendered project's bind mounts."""

from __future__ import annotations

import posixpath

SENSITIVE = ("/", "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/usr", "/lib", "/bin", "/sbin",
             "/var/run", "/run", "/var/lib/docker", "/var/lib/kubelet", "/home")
"""System directories: refused as themselves, with every folder that holds one, and with their children
(but for / and /home, whose children may be project files)."""
SOCKETS = ("docker.sock", "containerd.sock")


def has_parent_step(path: str) -> bool:
    """Whether a path climbs with `..`: where it lands depends on where it is resolved from."""
    return ".." in path.split("/")


def sensitive(path: str) -> bool:
    """Whether a host path is a container engine's socket, a system directory, inside one, or holds one."""
    path = "/" + posixpath.normpath(path).lstrip("/") if path.startswith("/") else path.rstrip("/")
    if any(socket in path for socket in SOCKETS):
        return True
    inside = any(path.startswith(p + "/") for p in SENSITIVE if p not in ("/", "/home"))
    holds = path.startswith("/") and any(p.startswith(path.rstrip("/") + "/") for p in SENSITIVE)
    return path in SENSITIVE or inside or holds


def escapes(source: str, base: str) -> bool:
    """Whether a relative host path, resolved from the folder `base` inside the bundle, leaves the bundle."""
    if source.startswith("/"):
        return False
    return posixpath.normpath(posixpath.join(base, source)).split("/")[0] == ".."
