"""SharedNamespace: a namespace several deployments share, owned by the program that places them in it.

Kubernetes applies every ResourceQuota and LimitRange of a namespace to every object in it, so per-deployment
copies would refuse each other's pods. The owner creates the one quota and LimitRange, sized for the sum of the
deployments, and the deployments (given this namespace) render none.
"""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.errors import SlmDeployError
from slm_deploy.kubernetes_workloads import create_objects
from slm_deploy.namespace_claims import Owner, register_owner
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.kubernetes.objects import Manifest, render_kubernetes
from slm_deploy.render.kubernetes.namespace import shared_namespace_objects
from slm_deploy.render.kubernetes.pod_security import pod_security_labels


class SharedNamespaceArgs(TypedDict, total=False):
    """The namespace's name, the deployments placed in it, and the cluster."""

    namespace: Required[str]
    """The namespace to create (a DNS label; never default or a system namespace)."""
    specs: Required[list[dict[str, Any]]]
    """The deployment mappings of every deployment placed in it (each also given `namespace`)."""
    kubernetes_provider: k8s.Provider
    """The cluster to create it in (default: the ambient kubeconfig)."""


SHARED_NAMESPACE_ARGS = frozenset(SharedNamespaceArgs.__annotations__)


def owned_bounds(spec: Any, name: str) -> tuple[Manifest, Manifest]:
    """The ResourceQuota and LimitRange the deployment renders when it owns namespace `name`."""
    deployment = ResolvedSpec(spec, namespace=name, owns_namespace=True).deployment
    objects = render_kubernetes(deployment, deployable_plan(deployment))
    (quota,) = [o for o in objects if o["kind"] == "ResourceQuota"]
    (limits,) = [o for o in objects if o["kind"] == "LimitRange"]
    return quota, limits


def shared_namespace_manifests(name: str, specs: list[Any]) -> list[Manifest]:
    """The Namespace, its quota and LimitRange for every deployment `specs` places in namespace `name`."""
    if not isinstance(specs, list) or not specs:
        raise TypeError("SharedNamespace needs args['specs']: a non-empty list of the deployment mappings "
                        "placed in the namespace")
    try:
        bounds = [owned_bounds(spec, name) for spec in specs]
        labels = pod_security_labels(ResolvedSpec(specs[0], namespace=name).deployment.spec)
    except SlmDeployError as exc:
        raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
    return shared_namespace_objects(name, labels, [quota for quota, _ in bounds], [limits for _, limits in bounds])


class SharedNamespace(pulumi.ComponentResource):
    """One namespace for several deployments: Pod Security `restricted`, one ResourceQuota admitting all of them
    at once and one LimitRange admitting each one's containers; pass `namespace` to each deployment."""

    namespace: pulumi.Output[str]
    """The namespace's name, known once the namespace, its quota and LimitRange exist."""

    def __init__(self, name: str, args: SharedNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:SharedNamespace", name, None, opts)
        values = checked_args("SharedNamespace", args, SHARED_NAMESPACE_ARGS, needs_spec=False)
        if not isinstance(values.get("namespace"), str):
            raise TypeError("SharedNamespace needs args['namespace']: the namespace's name as a plain string")
        manifests = shared_namespace_manifests(values["namespace"], values["specs"])
        provider = kubernetes_provider("SharedNamespace", values)
        resources = create_objects(self, name, manifests, provider)
        names = [r.metadata.name for r in resources]  # type: ignore[attr-defined]
        self.namespace = pulumi.Output.all(*names).apply(lambda created: created[0])
        specs = frozenset(ResolvedSpec(spec).deployment.spec.name for spec in values["specs"])
        register_owner(Owner(f"SharedNamespace {name!r}", values["namespace"], self.namespace, provider, specs))
        claim_child_names(self)
        self.register_outputs({"namespace": self.namespace})
