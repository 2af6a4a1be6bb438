"""The NVIDIA device plugin: what makes `nvidia.com/gpu` schedulable on AKS GPU nodes.

AKS installs the NVIDIA driver on GPU pools (gpuProfile.driver: Install) but not the device plugin; the
stable API azure-native 3.x uses (2025-09-01) has no setting that adds it. So the stack runs the plugin
itself, as a DaemonSet on the GPU pool only, in a namespace of its own.

The plugin registers a socket under the kubelet's /var/lib/kubelet/device-plugins, a root-owned host
directory: it needs that hostPath and UID 0, which the restricted Pod Security profile forbids. That
namespace alone is labelled `privileged` for enforcement (audit stays `restricted`, so every deviation is
recorded), and the policy pack exempts exactly this DaemonSet from exactly those rules
(slm_deploy.policies.system_waivers). Everything else is as tight as the plugin allows: no privilege,
no capabilities, no escalation, read-only root, RuntimeDefault seccomp, no service-account token, no
network at all, a quota, and the image pinned by digest.
"""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.gpu_scheduling import GPU_NODE_LABELS, GPU_TOLERATIONS
from slm_deploy.render.kubernetes.pod_security import pod_security_labels
from slm_deploy.spec.cluster_namespaces import DEVICE_PLUGIN_NAMESPACE
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.images import ImageRef, pinned_row

NAME = "nvidia-device-plugin"
PIN_KEY = "nvidia-device-plugin"
KUBELET_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
EXEMPTION = ("The NVIDIA device plugin registers a socket in the kubelet's root-owned "
             f"{KUBELET_PLUGIN_DIR}: it needs that hostPath and UID 0, nothing else.")
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "gpu-device-plugin",
          "app.kubernetes.io/part-of": "slm-deploy"}


def plugin_image(spec: DeploymentSpec) -> ImageRef:
    """The pinned plugin image, after the spec's base-image override and registry mirror."""
    return pinned_row(PIN_KEY, spec.security.base_images, spec.security.registry_mirror)


def max_gpu_nodes(spec: DeploymentSpec) -> int:
    """The GPU pool's largest size: one plugin pod per node."""
    scaling = spec.serving.autoscaling
    return max(scaling.max_replicas if scaling.enabled else spec.serving.replicas, 1)


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": DEVICE_PLUGIN_NAMESPACE, "labels": dict(labels or LABELS)}


def namespace(spec: DeploymentSpec) -> Manifest:
    """The only namespace the stack exempts from enforcing the restricted profile; audit still records it."""
    labels = {**LABELS, **pod_security_labels(spec, enforce="privileged", warn="privileged")}
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": DEVICE_PLUGIN_NAMESPACE, "labels": labels,
                     "annotations": {"slm-deploy.io/pod-security-exemption": EXEMPTION}},
    }


def service_account() -> Manifest:
    """An identity with no token: the plugin talks only to the kubelet's socket, never the API server."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME),
            "automountServiceAccountToken": False}


def default_deny() -> Manifest:
    """No traffic in or out: registration and health checks go over local sockets and NVML."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta("default-deny"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


CONTAINER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"},
                       "limits": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"}}


def limit_range() -> Manifest:
    """Defaults for anything else placed here, equal to the plugin's own requests and limits."""
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta("defaults"),
            "spec": {"limits": [{"type": "Container", "defaultRequest": dict(CONTAINER_RESOURCES["requests"]),
                                 "default": dict(CONTAINER_RESOURCES["limits"])}]}}


def resource_quota(spec: DeploymentSpec) -> Manifest:
    """Room for one plugin pod per GPU node and no more."""
    pods = max_gpu_nodes(spec)
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("plugin-pods"),
            "spec": {"hard": {"pods": str(pods), "limits.cpu": f"{100 * pods}m",
                              "limits.memory": f"{256 * pods}Mi"}}}


def daemon_set(spec: DeploymentSpec) -> Manifest:
    """One plugin per GPU node, tolerating the GPU taint, with the tightest context the plugin supports."""
    container = {
        "name": "nvidia-device-plugin",
        "image": plugin_image(spec).reference,
        "imagePullPolicy": "Always",
        "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
        "resources": {k: dict(v) for k, v in CONTAINER_RESOURCES.items()},
        "securityContext": {
            "privileged": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsUser": 0, "runAsNonRoot": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "device-plugin", "mountPath": KUBELET_PLUGIN_DIR},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": NAME, "automountServiceAccountToken": False,
        "priorityClassName": "system-node-critical",
        "nodeSelector": dict(GPU_NODE_LABELS),
        "tolerations": [dict(t) for t in GPU_TOLERATIONS],
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "hostNetwork": False, "hostPID": False, "hostIPC": False,
        "containers": [container],
        "volumes": [{"name": "device-plugin", "hostPath": {"path": KUBELET_PLUGIN_DIR, "type": "Directory"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(NAME),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                 "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod}},
    }


def device_plugin_manifests(spec: DeploymentSpec) -> list[Manifest]:
    """Every object of the plugin, namespace first."""
    return [namespace(spec), service_account(), default_deny(), limit_range(), resource_quota(spec),
            daemon_set(spec)]
