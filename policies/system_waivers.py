"""Waivers the pack itself grants to cluster add-ons that cannot run under the restricted profile.

One add-on needs this today: the NVIDIA device plugin, which registers a socket in the kubelet's root-owned
/var/lib/kubelet/device-plugins. A waiver applies only to an object of exactly the expected shape, so the
name alone exempts nothing: the DaemonSet must live in its own namespace, run only the plugin image pinned
by digest, mount no host path but the kubelet's plugin directory, and stay unprivileged with no host
namespaces; its namespace must still audit the restricted profile. Anything else is checked as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slm_deploy.policies.access import get, items, labels_of, pod_spec
from slm_deploy.policies.waivers import Waiver
from slm_deploy.spec.cluster_namespaces import DEVICE_PLUGIN_NAMESPACE

DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
DEVICE_PLUGIN_REPOSITORY = "nvidia/k8s-device-plugin"
KUBELET_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
_REASON = ("the NVIDIA device plugin registers its socket in the kubelet's root-owned "
           f"{KUBELET_PLUGIN_DIR}; it needs that hostPath and UID 0, and serves no health endpoint")


def _repository(image: str) -> str | None:
    """registry/path of a digest-pinned reference (tag and digest removed); None when not pinned."""
    name, _, digest = image.partition("@")
    if not digest.startswith("sha256:"):
        return None
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def _device_plugin_shape(manifest: Mapping[str, Any]) -> bool:
    """The plugin DaemonSet as slm-deploy renders it: pinned plugin image, kubelet dir only, unprivileged."""
    spec = pod_spec(manifest, "DaemonSet")
    if spec is None or any(spec.get(f) is True for f in ("hostNetwork", "hostPID", "hostIPC")):
        return False
    containers = [*items(spec.get("initContainers")), *items(spec.get("containers"))]
    for container in containers:
        image = container.get("image") if isinstance(container, Mapping) else None
        repository = _repository(image) if isinstance(image, str) else None
        if repository is None or not repository.endswith("/" + DEVICE_PLUGIN_REPOSITORY):
            return False
        context = container.get("securityContext")
        if not isinstance(context, Mapping) or context.get("privileged") is True \
                or context.get("allowPrivilegeEscalation") is not False:
            return False
    host_paths = [get(v, "hostPath", "path") for v in items(spec.get("volumes")) if get(v, "hostPath") is not None]
    return bool(containers) and all(path == KUBELET_PLUGIN_DIR for path in host_paths)


def _namespace_shape(manifest: Mapping[str, Any]) -> bool:
    """The plugin's namespace still audits the restricted profile, so every deviation is recorded."""
    return labels_of(manifest).get("pod-security.kubernetes.io/audit") == "restricted"


@dataclass(frozen=True)
class SystemWaiver:
    """A waiver plus the shape an object must have for it to apply."""

    waiver: Waiver
    kind: str
    shape: Callable[[Mapping[str, Any]], bool]


_PLUGIN = f"DaemonSet/{DEVICE_PLUGIN_NAMESPACE}/{DEVICE_PLUGIN_NAME}"
SYSTEM_WAIVERS: tuple[SystemWaiver, ...] = (
    SystemWaiver(Waiver("slm-k8s-005", _PLUGIN, _REASON), "DaemonSet", _device_plugin_shape),
    SystemWaiver(Waiver("slm-k8s-008", _PLUGIN, _REASON), "DaemonSet", _device_plugin_shape),
    SystemWaiver(Waiver("slm-k8s-017", _PLUGIN, _REASON), "DaemonSet", _device_plugin_shape),
    SystemWaiver(Waiver("slm-k8s-014", f"Namespace/{DEVICE_PLUGIN_NAMESPACE}", _REASON), "Namespace",
                 _namespace_shape),
)


def resource_id(kind: str, manifest: Mapping[str, Any]) -> str:
    """Kind/namespace/name (Kind/name for cluster-scoped objects), as waivers name resources."""
    name, namespace = get(manifest, "metadata", "name"), get(manifest, "metadata", "namespace")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def system_waiver(rule_id: str, kind: str, manifest: Any) -> Waiver | None:
    """The pack's own waiver for this finding, when the object has exactly the exempted shape."""
    if not isinstance(manifest, Mapping):
        return None
    key = resource_id(kind, manifest)
    for entry in SYSTEM_WAIVERS:
        if entry.kind == kind and entry.waiver.matches(rule_id, key, "") and entry.shape(manifest):
            return entry.waiver
    return None
