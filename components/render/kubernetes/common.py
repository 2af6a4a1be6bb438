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
MAX_STATEFULSET_NAME = 52
"""A StatefulSet's pods carry controller-revision-hash=<name>-<10-character hash>, a label value of 63 at most."""


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


def bounded_name(base: str, suffix: str, limit: int = MAX_NAME) -> str:
    """<base>-<suffix> within `limit` characters; a trimmed base carries a hash of the whole, so two long names that
    share a prefix never become one."""
    name = f"{base}-{suffix}"
    if len(name) <= limit:
        return name
    room = limit - len(suffix) - len(short_hash(base)) - 2
    return f"{base[:room].rstrip('-')}-{short_hash(base)}-{suffix}"
