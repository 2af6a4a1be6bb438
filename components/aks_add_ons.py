"""AksAddOns: what a new AKS cluster runs for the workloads, from the same renderers `render` uses."""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.aks_ingress import CertManager, ingress_class_warning
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.kubernetes_workloads import create_objects
from slm_deploy.render.kubernetes.cluster_add_ons import cert_manager_objects, device_plugin_objects
from slm_deploy.stack_settings import settings_from_args


class AksAddOnsArgs(TypedDict, total=False):
    """The spec (its GPU and exposure decide what is installed) and the cluster to install into."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    kubernetes_provider: Required[k8s.Provider]
    """The cluster's provider (AksCluster's kubernetes_provider)."""
    acme_server: str
    """ACME directory the ClusterIssuer registers with (default: Let's Encrypt production)."""
    acme_email: str
    """Contact for certificate expiry notices."""


AKS_ADD_ONS_ARGS = frozenset(AksAddOnsArgs.__annotations__)


class AksAddOns(pulumi.ComponentResource):
    """The NVIDIA device plugin on GPU clusters; cert-manager and the spec's ClusterIssuer with an Ingress."""

    def __init__(self, name: str, args: AksAddOnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:AksAddOns", name, None, opts)
        values = checked_args("AksAddOns", args, AKS_ADD_ONS_ARGS)
        provider = kubernetes_provider("AksAddOns", values)
        if provider is None:
            raise TypeError("AksAddOns needs args['kubernetes_provider']: the cluster's provider")
        spec = ResolvedSpec(values["spec"]).deployment.spec
        settings = settings_from_args(values)
        self.device_plugin = create_objects(self, f"{name}-gpu-plugin", device_plugin_objects(spec), provider)
        self.cert_manager = None
        issuer_objects = cert_manager_objects(spec, settings.acme_server, settings.acme_email)
        if issuer_objects:
            warning = ingress_class_warning(spec)
            if warning:
                pulumi.log.warn(warning, resource=self)
            namespace, issuer = issuer_objects
            self.cert_manager = CertManager(f"{name}-cert-manager", spec, provider, namespace, issuer,
                                            opts=pulumi.ResourceOptions(parent=self))
        claim_child_names(self)
        self.register_outputs({})
