"""Deployments that share a cluster: one's namespace is never where another's add-ons run (its bundled monitoring
stack, the Prometheus or ingress controller it relies on), or its deny-all policy and quota cut them off; and one of
them at most bundles the monitoring stack."""

from __future__ import annotations

from collections.abc import Iterable

from slm_deploy.errors import Problem
from slm_deploy.spec.consistency import kubernetes_target, namespace_of, own_add_on_namespaces
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.monitoring_checks import monitoring_mode


def namespace_clash(spec: DeploymentSpec, neighbours: Iterable[DeploymentSpec]) -> Problem | None:
    """The problem with `spec`'s namespace when a neighbour on the same cluster places an add-on there."""
    target = kubernetes_target(spec)
    if target is None:
        return None
    owners = (own_add_on_namespaces(other).get(namespace_of(spec)) for other in neighbours)
    owner = next((owner for owner in owners if owner), None)
    if owner is None:
        return None
    return Problem("targets.kubernetes.namespace" if target.namespace else "name",
                   f"puts the deployment in the namespace where another deployment on the same cluster places {owner}; "
                   "this deployment's deny-all NetworkPolicy and quota would cut it off",
                   allowed="a namespace no deployment on the cluster uses for an add-on",
                   hint="set targets.kubernetes.namespace to a namespace of the deployment's own")


def bundles_monitoring(spec: DeploymentSpec) -> bool:
    """Whether the deployment installs kube-prometheus-stack on its cluster."""
    return kubernetes_target(spec) is not None and spec.monitoring.enabled and monitoring_mode(spec) == "bundled"


def monitoring_clash(spec: DeploymentSpec, neighbours: Iterable[DeploymentSpec]) -> Problem | None:
    """The problem with `spec` bundling the monitoring stack when a neighbour on the same cluster bundles it too: a
    cluster holds one release, whose CRDs, admission webhooks and cluster roles are cluster-wide."""
    if not bundles_monitoring(spec) or not any(bundles_monitoring(other) for other in neighbours):
        return None
    return Problem("monitoring.mode", "bundles the monitoring stack (kube-prometheus-stack) where another deployment "
                   "on the same cluster bundles it too; a cluster holds one release (its CRDs, admission webhooks and "
                   "cluster roles are cluster-wide)",
                   allowed="one deployment per cluster with monitoring.mode bundled (the default off AKS)",
                   hint="set monitoring.mode: existing on the others; they rely on the bundling deployment's "
                        "Prometheus (targets.kubernetes.monitoring_namespace: its namespace, `monitoring` by default)")

