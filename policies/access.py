"""Read manifests through Mapping/Sequence only, so CrossGuard's proxies work like dicts."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

WORKLOAD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASS|KEY|API_?KEY|AUTH|CREDENTIALS?|PRIVATE_?KEY)($|_)", re.IGNORECASE
)
SECRET_FILE_NAME_SUFFIXES = ("_FILE", "_PATH", "__FILE", "_DIR")


def get(obj: Any, *path: str | int) -> Any:
    """Follow keys and indices; anything missing or of the wrong shape is None (unset)."""
    cur = obj
    for step in path:
        if isinstance(step, int):
            if not is_list(cur) or step >= len(cur):
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(step)
        if cur is None:
            return None
    return cur


def is_list(value: Any) -> bool:
    """A Sequence that is not text (strings are Sequences too)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def items(value: Any) -> list[Any]:
    """The elements of a list, or nothing when unset or not a list."""
    return list(value) if is_list(value) else []


def mapping(value: Any) -> Mapping[str, Any]:
    """The value as a Mapping, or an empty one when unset."""
    return value if isinstance(value, Mapping) else {}


def is_true(value: Any) -> bool:
    """True only for an explicit boolean true (YAML or proxy)."""
    return value is True


def is_secret_name(name: Any) -> bool:
    """Whether a variable or key name looks like it holds a credential (Trivy matches names)."""
    if not isinstance(name, str):
        return False
    upper = name.upper()
    if upper.endswith(SECRET_FILE_NAME_SUFFIXES):
        return False
    return bool(SECRET_NAME.search(upper)) or upper in {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY"}


def pod_spec_path(kind: str) -> tuple[str, ...]:
    """Where the pod spec sits in a workload of this kind."""
    if kind == "Pod":
        return ("spec",)
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    return ("spec", "template", "spec")


def pod_meta_path(kind: str) -> tuple[str, ...]:
    """Where the pod template's metadata sits."""
    if kind == "Pod":
        return ("metadata",)
    return pod_spec_path(kind)[:-1] + ("metadata",)


def pod_spec(manifest: Any, kind: str) -> Mapping[str, Any] | None:
    """The pod spec of a workload, or None when absent (e.g. in a partial patch)."""
    spec = get(manifest, *pod_spec_path(kind))
    return spec if isinstance(spec, Mapping) else None


def dotted(path: tuple[str, ...]) -> str:
    """Field path for messages, e.g. spec.template.spec."""
    return ".".join(path)


def containers(manifest: Any, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every container with its field path (indices, never names, so no values leak)."""
    spec = pod_spec(manifest, kind)
    if spec is None:
        return
    base = dotted(pod_spec_path(kind))
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(items(spec.get(list_name))):
            if isinstance(container, Mapping):
                yield f"{base}.{list_name}[{index}]", container


def main_containers(manifest: Any, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Only the long-running containers (not init or ephemeral)."""
    for path, container in containers(manifest, kind):
        if ".containers[" in path:
            yield path, container


def labels_of(manifest: Any) -> Mapping[str, Any]:
    """metadata.labels as a Mapping."""
    return mapping(get(manifest, "metadata", "labels"))


def annotations_of(manifest: Any) -> Mapping[str, Any]:
    """metadata.annotations as a Mapping."""
    return mapping(get(manifest, "metadata", "annotations"))


def as_number(value: Any) -> float | None:
    """A number from an int, float or numeric string; None otherwise (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def command_line(container: Mapping[str, Any]) -> list[str]:
    """The words a container runs, in order, as strings (a `sh -c` script is split on whitespace)."""
    words: list[str] = []
    for key in ("entrypoint", "command", "args"):  # Compose: entrypoint + command; Kubernetes: command + args
        value = container.get(key)
        if isinstance(value, str):
            words.extend(value.split())
        else:
            for item in items(value):
                if isinstance(item, str):
                    words.extend(item.split()) if " " in item.strip() else words.append(item)
    return words


def flag_present(words: list[str], *flags: str) -> bool:
    """Whether any of the flags appears, as `--flag` or `--flag=value`."""
    for word in words:
        for flag in flags:
            if word == flag or word.startswith(flag + "="):
                return True
    return False


def flag_value(words: list[str], *flags: str) -> str | None:
    """The value given to a flag (`--flag value` or `--flag=value`), or None."""
    for index, word in enumerate(words):
        for flag in flags:
            if word.startswith(flag + "="):
                return word.split("=", 1)[1]
            if word == flag and index + 1 < len(words):
                return words[index + 1]
    return None
