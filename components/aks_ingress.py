"""Ingress on AKS: the application routing add-on's managed NGINX, and cert-manager for the TLS certificate.

With exposure.mode ingress the rendered Ingress names an ingress class and a cert-manager ClusterIssuer
(exposure.tls.issuer); on a new cluster neither exists. The add-on (ingressProfile.webAppRouting) runs a
managed NGINX whose IngressClass is `webapprouting.kubernetes.azure.com`, patched and upgraded by AKS.
cert-manager comes from its official chart, pinned by version and repository, with the hardened
defaults of the chart stated explicitly, and a ClusterIssuer with the spec's issuer name answering
ACME HTTP-01 challenges through the same ingress class.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from slm_deploy.child_names import claim_child_names
from slm_deploy.crd_installers import register_installer
from slm_deploy.render.kubernetes.cert_manager import (
    CERT_MANAGER_VERSION, cert_manager_release,
)
from slm_deploy.render.kubernetes.cluster_add_ons import wants_ingress
from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.sections import APP_ROUTING_CLASS


CERT_MANAGER_GROUPS = ("cert-manager.io", "acme.cert-manager.io")
"""The API groups whose CRDs the chart installs."""


def ingress_profile(spec: DeploymentSpec) -> dict[str, Any] | None:
    """The ManagedCluster ingressProfile: the application routing add-on, only when something is exposed."""
    if not wants_ingress(spec):
        return None
    return {"web_app_routing": {"enabled": True}}


def ingress_class_warning(spec: DeploymentSpec) -> str | None:
    """Why the rendered Ingress would have no controller on this cluster, if it would not."""
    if not wants_ingress(spec) or spec.exposure.ingress_class == APP_ROUTING_CLASS:
        return None
    return (f"exposure.ingress_class is {spec.exposure.ingress_class!r}, but this AKS cluster runs only the "
            f"application routing add-on ({APP_ROUTING_CLASS!r}); install a controller for that class or set "
            f"exposure.ingress_class: {APP_ROUTING_CLASS}")


class CertManager(pulumi.ComponentResource):
    """cert-manager's namespace, its Helm release, and the spec's ClusterIssuer once the CRDs exist."""

    def __init__(self, name: str, spec: DeploymentSpec, provider: pulumi.ProviderResource, namespace: Manifest,
                 issuer: Manifest, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:kubernetes:CertManager", name, None, opts)
        base = pulumi.ResourceOptions(parent=self, provider=provider)
        self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=namespace["metadata"], opts=base)
        release = cert_manager_release(spec)
        self.release = k8s.helm.v3.Release(
            f"{name}-release", name=release["metadata"]["name"], chart=release["chart"], version=release["version"],
            repository_opts=release["repositoryOpts"], namespace=release["metadata"]["namespace"],
            create_namespace=False, atomic=True, cleanup_on_fail=True, values=release["values"],
            opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[self.namespace])))
        register_installer(provider, CERT_MANAGER_GROUPS, self.release, f"cert-manager {name!r}",
                           "install cert-manager once per cluster")
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer", api_version=issuer["apiVersion"], kind=issuer["kind"], metadata=issuer["metadata"],
            spec=issuer["spec"],
            opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[self.release])))
        claim_child_names(self)
        self.register_outputs({"issuer": spec.exposure.tls.issuer, "chartVersion": CERT_MANAGER_VERSION})
