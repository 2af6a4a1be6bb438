"""Names, labels and metadata every Kubernetes object of a deployment shares."""

from __future__ import annotations

import hashlib
from typing import Any

from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.spec.consistency import namespace_of
from slm_deploy.spec.loader import Deployment

Manifest = dict[str, Any]
MANAGED_BY = {"app.kubernetes.io/managed-by": "slm-deploy"}
COMPONENT = "slm-deploy.io/component"
WEIGHTS_ANNOTATION = "slm-deploy.io/weights-bytes"
CONFIG_MOUNT = "/etc/slm"
MAX_NAME = 63


def meta(deployment: Deployment, name: str, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """Metadata of a namespaced object: always in the deployment's namespace, explicitly."""
    body: dict[str, Any] = {"name": name, "namespace": namespace_of(deployment.spec),
                            "labels": dict(labels or MANAGED_BY)}
    if annotations:
        body["annotations"] = annotations
    return body


def selector(service: ServicePlan) -> dict[str, str]:
    """The labels that pick one service's pods (instance plus component)."""
    labels = dict(service.labels)
    return {"app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
            "app.kubernetes.io/component": labels["app.kubernetes.io/component"]}


def short_hash(*parts: object) -> str:
    """Eight hex characters that change exactly when the parts change."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode())
    return digest.hexdigest()[:8]


def bounded_name(base: str, suffix: str) -> str:
    """<base>-<suffix>, trimming the base so the name stays a valid 63-character label."""
    room = MAX_NAME - len(suffix) - 1
    return f"{base[:room].rstrip('-')}-{suffix}"
