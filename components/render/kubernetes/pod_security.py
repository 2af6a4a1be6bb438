"""Pod Security admission labels, pinned to the target cluster's Kubernetes minor version.

Pinning `*-version` keeps a namespace's profile fixed when the cluster upgrades; the version follows
targets.aks.kubernetes_version when the spec creates the cluster, else the newest release the rules
were written against.
"""

from __future__ import annotations

from slm_deploy.spec.deployment import DeploymentSpec

RESTRICTED = "restricted"
DEFAULT_VERSION = "v1.34"
"""The profile version for clusters the spec does not describe (a plain targets.kubernetes)."""
MODES = ("enforce", "audit", "warn")


def pod_security_version(spec: DeploymentSpec) -> str:
    """The Pod Security Standards version of the target cluster (AKS 1.33.2 -> v1.33)."""
    aks = spec.targets.aks
    if aks is None or not aks.kubernetes_version:
        return DEFAULT_VERSION
    major, minor = aks.kubernetes_version.split(".")[:2]
    return f"v{major}.{minor}"


def pod_security_labels(spec: DeploymentSpec, enforce: str = RESTRICTED, warn: str = RESTRICTED,
                        audit: str = RESTRICTED) -> dict[str, str]:
    """Every mode's level and version; callers loosen enforce/warn only where a waiver says why."""
    version = pod_security_version(spec)
    levels = {"enforce": enforce, "audit": audit, "warn": warn}
    labels: dict[str, str] = {}
    for mode in MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = levels[mode]
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return labels
