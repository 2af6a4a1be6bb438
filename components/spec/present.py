"""Fields that validation has made present on the path that reads them, narrowed for the type checker."""

from __future__ import annotations

from typing import TypeVar

from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.sections import AksTarget, Gpu, HostTarget

T = TypeVar("T")


def present(value: T | None, field: str) -> T:
    """The value of a field this path only reads once validation has required it; absent, slm-deploy has a bug."""
    if value is None:
        raise LookupError(f"{field} is unset on a path that validation reserves for specs that set it")
    return value


def aks_target(spec: DeploymentSpec) -> AksTarget:
    """The AKS target the Azure components build for; a program that hands them a spec without one is refused."""
    if spec.targets.aks is None:
        raise TypeError("the AKS components need a spec with targets.aks")
    return spec.targets.aks


def host_target(spec: DeploymentSpec) -> HostTarget:
    """The host target that host install files are written for."""
    return present(spec.targets.host, "targets.host")


def gpu_of(spec: DeploymentSpec) -> Gpu:
    """The GPU of a runtime or sizing step that needs one."""
    return present(spec.resources.gpu, "resources.gpu")
