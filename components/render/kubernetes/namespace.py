"""The namespace and what bounds it: Pod Security labels, its own service account, quota and default limits.

A ResourceQuota or LimitRange binds every object of its namespace, so a namespace holds one of each: the
deployment's own, or, in a shared namespace, its owner's, sized for the sum of the deployments placed in it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slm_deploy.render.kubernetes.common import MANAGED_BY, Manifest, meta
from slm_deploy.render.kubernetes.gpu_scheduling import GPU_RESOURCE
from slm_deploy.render.kubernetes.pod_security import pod_security_labels
from slm_deploy.spec.consistency import namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.quantity import MIB, parse_bytes

DEFAULT_LIMIT = {"cpu": "500m", "memory": "512Mi"}
DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}


def namespace(deployment: Deployment) -> Manifest:
    """A dedicated namespace that enforces, audits and warns on Pod Security `restricted`, pinned to the version
    of the target cluster."""
    labels = {**MANAGED_BY, **pod_security_labels(deployment.spec)}
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace_of(deployment.spec), "labels": labels}}


def service_account(deployment: Deployment) -> Manifest:
    """The workloads' own identity, with no API token mounted (they never talk to the API server)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(deployment, deployment.spec.name),
            "automountServiceAccountToken": False}


def _cpu_millis(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else round(float(value) * 1000)


def _pod_totals(pod: dict[str, Any]) -> dict[str, int]:
    """What one pod counts against a quota: the larger of its biggest init container and its containers' sum."""
    def total(containers: Iterable[dict[str, Any]], side: str) -> dict[str, int]:
        sums = {"cpu": 0, "memory": 0, GPU_RESOURCE: 0}
        for c in containers:
            block = c.get("resources", {}).get(side, {})
            sums["cpu"] += _cpu_millis(block.get("cpu", "0"))
            sums["memory"] += parse_bytes(block.get("memory", "0"))
            sums[GPU_RESOURCE] += int(c.get("resources", {}).get("limits", {}).get(GPU_RESOURCE, 0))
        return sums

    out: dict[str, int] = {}
    for side in ("requests", "limits"):
        main = total(pod["containers"], side)
        for init in pod.get("initContainers", []):
            single = total([init], side)
            main = {k: max(v, single[k]) for k, v in main.items()}
        out |= {f"{side}.cpu": main["cpu"], f"{side}.memory": main["memory"], GPU_RESOURCE: main[GPU_RESOURCE]}
    return out


def resource_quota(deployment: Deployment, pods: list[tuple[dict[str, Any], int]], claims: list[Manifest],
                   services: int) -> Manifest:
    """The namespace's ceiling: every pod at its most replicas plus a surge pod, every claim, no public Services."""
    totals = {"requests.cpu": 0, "requests.memory": 0, "limits.cpu": 0, "limits.memory": 0, GPU_RESOURCE: 0}
    count = 0
    for pod, copies in pods:
        for key, value in _pod_totals(pod).items():
            totals[key] += value * copies
        count += copies
    storage = sum(parse_bytes(c["spec"]["resources"]["requests"]["storage"]) for c in claims)
    hard: dict[str, str] = {
        "pods": str(count),
        "requests.cpu": f"{totals['requests.cpu']}m",
        "requests.memory": f"{totals['requests.memory'] // MIB}Mi",
        "limits.cpu": f"{totals['limits.cpu']}m",
        "limits.memory": f"{totals['limits.memory'] // MIB}Mi",
        f"requests.{GPU_RESOURCE}": str(totals[GPU_RESOURCE]),
        "persistentvolumeclaims": str(len(claims)),
        "requests.storage": f"{storage // MIB}Mi",
        "services": str(services),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta(deployment, deployment.spec.name),
            "spec": {"hard": hard}}


def limit_range(deployment: Deployment, pods: list[tuple[dict[str, Any], int]]) -> Manifest:
    """Defaults for containers that name no resources, and a ceiling no larger than the biggest rendered container."""
    containers = [c for pod, _ in pods for c in (*pod.get("initContainers", []), *pod["containers"])]
    max_cpu = max(_cpu_millis(c["resources"]["limits"]["cpu"]) for c in containers)
    max_memory = max(parse_bytes(c["resources"]["limits"]["memory"]) for c in containers)
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta(deployment, deployment.spec.name),
            "spec": {"limits": [{
                "type": "Container",
                "default": dict(DEFAULT_LIMIT),
                "defaultRequest": dict(DEFAULT_REQUEST),
                "max": {"cpu": f"{max_cpu}m", "memory": f"{max_memory // MIB}Mi"},
            }]}}


QUANTITY_UNITS = {"cpu": "m", "memory": "Mi", "storage": "Mi"}
"""How each kind of quota quantity is written (counts have no unit)."""


def _unit(key: str) -> str:
    return next((unit for kind, unit in QUANTITY_UNITS.items() if key.endswith(kind)), "")


def _amount(key: str, value: str) -> int:
    """A quota value in its kind's base unit: millicores, bytes or a count."""
    unit = _unit(key)
    if unit == "m":
        return _cpu_millis(value)
    return parse_bytes(value) if unit else int(value)


def _quantity(key: str, amount: int) -> str:
    unit = _unit(key)
    if unit == "Mi":
        return f"{-(-amount // MIB)}Mi"
    return f"{amount}{unit}"


def shared_namespace_objects(name: str, labels: dict[str, str], quotas: list[Manifest],
                             limit_ranges: list[Manifest]) -> list[Manifest]:
    """A namespace several deployments share: Pod Security labels, one quota that admits all of them at once
    (the sum of their own quotas) and one LimitRange whose ceiling admits each one's largest container."""
    hard: dict[str, int] = {}
    for quota in quotas:
        for key, value in quota["spec"]["hard"].items():
            hard[key] = hard.get(key, 0) + _amount(key, value)
    ceilings = [item["max"] for lr in limit_ranges for item in lr["spec"]["limits"] if item["type"] == "Container"]
    metadata = {"name": name, "namespace": name, "labels": dict(MANAGED_BY)}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {**MANAGED_BY, **labels}}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": metadata,
         "spec": {"hard": {key: _quantity(key, amount) for key, amount in sorted(hard.items())}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": dict(metadata), "spec": {"limits": [{
            "type": "Container",
            "default": dict(DEFAULT_LIMIT),
            "defaultRequest": dict(DEFAULT_REQUEST),
            "max": {"cpu": f"{max(_cpu_millis(c['cpu']) for c in ceilings)}m",
                    "memory": _quantity("memory", max(parse_bytes(c["memory"]) for c in ceilings))},
        }]}},
    ]
