"""Turn one container of a pod spec into `docker create` arguments, with the kubelet's semantics.

Command and args replace the image's ENTRYPOINT and CMD exactly as Kubernetes does; the pod's security
context is the default for each container's; limits become cgroup limits. A field the harness cannot
honour is refused by name rather than skipped, so a manifest never passes by being half-run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

CONTAINER_FIELDS = frozenset({
    "name", "image", "imagePullPolicy", "command", "args", "env", "ports", "resources", "securityContext",
    "volumeMounts", "startupProbe", "readinessProbe", "livenessProbe", "lifecycle", "workingDir",
    "terminationMessagePolicy",
})
INHERITED_SECURITY = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")
"""Pod-level securityContext fields that are the default for every container."""
BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
DECIMAL_SUFFIXES = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class Unsupported(ValueError):
    """The manifest uses something this harness cannot run faithfully."""


def memory_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity (1024Mi, 3Gi, 512M, 1e9) in bytes."""
    text = str(quantity)
    match = re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)([KMGT]i|[kMGT])?", text)
    if not match:
        raise Unsupported(f"memory quantity {text!r}")
    scale = BINARY_SUFFIXES.get(match.group(2) or "", DECIMAL_SUFFIXES.get(match.group(2) or "", 1))
    return int(Decimal(match.group(1)) * scale)


def cpu_cores(quantity: str | int | float) -> Decimal:
    """A Kubernetes CPU quantity (500m, 4, 0.5) in cores."""
    text = str(quantity)
    if text.endswith("m"):
        return Decimal(text[:-1]) / 1000
    return Decimal(text)


def security(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The container's effective security context: pod defaults, then the container's own fields."""
    pod = pod_spec.get("securityContext") or {}
    merged = {key: pod[key] for key in INHERITED_SECURITY if key in pod}
    return {**merged, **(container.get("securityContext") or {})}


def entrypoint_and_arguments(container: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(docker --entrypoint flags, arguments after the image): `command` replaces ENTRYPOINT and CMD,
    `args` replaces only CMD, as Kubernetes defines them."""
    command, args = list(container.get("command") or []), list(container.get("args") or [])
    if command:
        return ["--entrypoint", command[0]], command[1:] + args
    return [], args


def run_options(pod_spec: Mapping[str, Any], container: Mapping[str, Any], *,
                image_user: str) -> list[str]:
    """Every `docker create` option the container's spec implies (user, groups, filesystem, privileges,
    limits, environment, working directory); the caller adds name, network and mounts."""
    unknown = sorted(set(container) - CONTAINER_FIELDS)
    if unknown:
        raise Unsupported(f"container {container.get('name')}: fields {unknown}")
    context = security(pod_spec, container)
    options: list[str] = []
    uid, gid = context.get("runAsUser"), context.get("runAsGroup")
    if context.get("runAsNonRoot"):
        _check_non_root(container.get("name", "?"), uid, image_user)
    if uid is not None:
        options += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    elif gid is not None:
        raise Unsupported("runAsGroup without runAsUser")
    pod_context = pod_spec.get("securityContext") or {}
    groups = [pod_context["fsGroup"]] if "fsGroup" in pod_context else []
    for group in [*groups, *pod_context.get("supplementalGroups", [])]:
        options += ["--group-add", str(group)]
    if context.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    capabilities = context.get("capabilities") or {}
    options += [f"--cap-drop={cap}" for cap in capabilities.get("drop", [])]
    options += [f"--cap-add={cap}" for cap in capabilities.get("add", [])]
    if context.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges:true"]
    if context.get("privileged"):
        options.append("--privileged")
    seccomp = (context.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        options += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":
        raise Unsupported(f"seccompProfile {seccomp}")
    options += _limits(container.get("resources") or {})
    for variable in container.get("env") or []:
        if "value" not in variable:
            raise Unsupported(f"env {variable.get('name')} without a literal value")
        options += ["--env", f"{variable['name']}={variable['value']}"]
    if container.get("workingDir"):
        options += ["--workdir", container["workingDir"]]
    return options


def _limits(resources: Mapping[str, Any]) -> list[str]:
    limits = resources.get("limits") or {}
    extended = sorted(key for key in limits if key not in ("cpu", "memory", "ephemeral-storage"))
    if extended:
        raise Unsupported(f"extended resources {extended}: this node has none")
    options = []
    if "memory" in limits:
        options += ["--memory", str(memory_bytes(limits["memory"])), "--memory-swap", str(memory_bytes(limits["memory"]))]
    if "cpu" in limits:
        options += ["--cpus", str(cpu_cores(limits["cpu"]))]
    return options


def _check_non_root(name: str, uid: int | None, image_user: str) -> None:
    """What the kubelet refuses before starting a container with runAsNonRoot."""
    if uid is not None:
        if int(uid) == 0:
            raise PermissionError(f"container {name}: runAsNonRoot with runAsUser 0")
        return
    user = image_user.split(":", 1)[0]
    if not user or user == "root":
        raise PermissionError(f"container {name}: runAsNonRoot and the image will run as root")
    if not user.isdigit():
        raise PermissionError(f"container {name}: image has a non-numeric user ({user}); cannot verify it is non-root")
    if int(user) == 0:
        raise PermissionError(f"container {name}: runAsNonRoot and the image will run as root")


def port_number(container: Mapping[str, Any], port: int | str) -> int:
    """A probe's port, by number or by the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for entry in container.get("ports") or []:
        if entry.get("name") == port:
            return int(entry["containerPort"])
    raise Unsupported(f"container {container.get('name')} has no port named {port}")

