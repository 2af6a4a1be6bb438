"""Deployments that share a cluster: one's namespace is never where another's add-ons run (its bundled monitoring
stack, the Prometheus or ingress controller it relies on), or its deny-all policy and quota cut them off; and a
bundled monitoring stack never shares its namespace with another's add-ons (another bundled stack, or the Prometheus
operator a deployment in existing mode relies on), which its quota and deny-all policy would starve and cut off."""

from __future__ import annotations

from collections.abc import Iterable

from slm_deploy.errors import Problem
from slm_deploy.spec.consistency import kubernetes_target, namespace_of, own_add_on_namespaces
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.monitoring_checks import monitoring_mode


def bundled_monitoring_namespace(spec: DeploymentSpec) -> str | None:
    """Where the spec runs a bundled monitoring stack of its own on a cluster, if it does."""
    target = kubernetes_target(spec)
    if target is None or not spec.monitoring.enabled or monitoring_mode(spec) != "bundled":
        return None
    return target.monitoring_namespace


def namespace_clash(spec: DeploymentSpec, neighbours: Iterable[DeploymentSpec]) -> Problem | None:
    """The problem with `spec`'s namespace when a neighbour on the same cluster places an add-on there."""
    return add_on_clash(spec, [own_add_on_namespaces(other) for other in neighbours])


def add_on_clash(spec: DeploymentSpec, neighbours_add_ons: list[dict[str, str]]) -> Problem | None:
    """namespace_clash, given each neighbour's own_add_on_namespaces: a fleet works them out once per spec, not
    once per pair of specs."""
    target = kubernetes_target(spec)
    if target is None:
        return None
    owners = (add_ons.get(namespace_of(spec)) for add_ons in neighbours_add_ons)
    owner = next((owner for owner in owners if owner), None)
    stack = bundled_monitoring_namespace(spec)
    held = (add_ons.get(stack) for add_ons in neighbours_add_ons) if stack is not None else ()
    resident = next((what for what in held if what), None)
    if resident is not None:
        return Problem("targets.kubernetes.monitoring_namespace",
                       f"is where another deployment on the same cluster places {resident}; this stack's deny-all policy, "
                       "quota and LimitRange are sized for its own pods and would cut it off",
                       allowed="a monitoring namespace of the deployment's own, or monitoring.mode existing",
                       hint="set targets.kubernetes.monitoring_namespace, e.g. to <name>-monitoring")
    if owner is None:
        return None
    return Problem("targets.kubernetes.namespace" if target.namespace else "name",
                   f"puts the deployment in the namespace where another deployment on the same cluster places {owner}; "
                   "this deployment's deny-all NetworkPolicy and quota would cut it off",
                   allowed="a namespace no deployment on the cluster uses for an add-on",
                   hint="set targets.kubernetes.namespace to a namespace of the deployment's own")
