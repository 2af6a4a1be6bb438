"""Deployments that share a cluster and one namespace: each would create the Namespace with a ResourceQuota and
LimitRange sized for itself alone, and every quota of a namespace counts every pod in it, so together they cannot
run unless the namespace has one owner outside them (targets.kubernetes.shared_namespace on every one)."""

from __future__ import annotations

from collections.abc import Callable

from slm_deploy.errors import Problem
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.deployment import DeploymentSpec


def namespace_field(spec: DeploymentSpec) -> str:
    """The field that decides the namespace: targets.kubernetes.namespace, or the name when that is unset."""
    target = kubernetes_target(spec)
    return "targets.kubernetes.namespace" if target is not None and target.namespace else "name"


def namespace_owner_clashes(specs: list[DeploymentSpec],
                            where: Callable[[int, str], str]) -> list[tuple[int, Problem]]:
    """(index, problem) for every spec that would create a namespace another deployment of the run is placed in;
    `where(index, field)` names the other specs (file:line). Specs of one deployment name are the stacks of one
    project, not neighbours."""
    by_namespace: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        by_namespace.setdefault(namespace_of(spec), []).append(index)
    found = []
    for members in by_namespace.values():
        if len({specs[index].name for index in members}) < 2:
            continue
        for index in members:
            target = kubernetes_target(specs[index])
            if target is None or target.shared_namespace:
                continue
            others = ", ".join(where(other, namespace_field(specs[other])) for other in members
                               if specs[other].name != specs[index].name)
            found.append((index, Problem(
                namespace_field(specs[index]),
                f"is also the namespace of the deployment at {others}; each would create the Namespace with a "
                "ResourceQuota and LimitRange sized for itself, and every quota counts every pod of the namespace, "
                "so together they cannot run",
                allowed="a namespace of the deployment's own, or targets.kubernetes.shared_namespace: true on every "
                        "deployment placed in it (its owner, such as a SharedNamespace component, creates it once)",
                hint="set targets.kubernetes.namespace to a namespace of the deployment's own")))
    return found
