"""The restricted Pod Security profile, in one place: every pod template and container takes it from here."""

from __future__ import annotations

from typing import Any

from slm_deploy.spec.loader import Deployment


def pod_security(deployment: Deployment) -> dict[str, Any]:
    """Pod-level restricted security context (non-root UID/GID 10001+, fsGroup, RuntimeDefault seccomp)."""
    security = deployment.spec.security
    return {
        "runAsNonRoot": True,
        "runAsUser": security.uid,
        "runAsGroup": security.gid,
        "fsGroup": security.gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(deployment: Deployment) -> dict[str, Any]:
    """Container-level restricted security context (repeated for scanners that read containers only)."""
    security = deployment.spec.security
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": security.uid,
        "runAsGroup": security.gid,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_defaults(deployment: Deployment, service_account: str) -> dict[str, Any]:
    """Fields every pod spec starts with: its own identity, no API token, no service links, restricted."""
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(deployment),
    }
