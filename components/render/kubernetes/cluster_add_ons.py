"""What a cluster the spec creates runs for the workloads: the NVIDIA device plugin, cert-manager's issuer.

`pulumi up` creates exactly these objects (through AksAddOns); `render` writes them to
kubernetes/cluster/, applied with cluster-admin rights before the workloads, and `check` judges them.
"""

from __future__ import annotations

from slm_deploy.render.kubernetes.cert_manager import LETSENCRYPT_PRODUCTION, cert_manager_namespace, cluster_issuer
from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.device_plugin import device_plugin_manifests
from slm_deploy.spec.deployment import DeploymentSpec


def wants_ingress(spec: DeploymentSpec) -> bool:
    """Whether the spec exposes the gateway through an Ingress (which needs a certificate issuer)."""
    return spec.exposure.mode == "ingress"


def device_plugin_objects(spec: DeploymentSpec) -> list[Manifest]:
    """The device plugin, when the cluster gets a GPU pool."""
    return device_plugin_manifests(spec) if spec.targets.aks is not None and spec.resources.gpu is not None else []


def cert_manager_objects(spec: DeploymentSpec, acme_server: str = LETSENCRYPT_PRODUCTION,
                         acme_email: str | None = None) -> list[Manifest]:
    """cert-manager's namespace and the ClusterIssuer, when the cluster serves an Ingress."""
    if spec.targets.aks is None or not wants_ingress(spec):
        return []
    return [cert_manager_namespace(spec), cluster_issuer(spec, acme_server, acme_email)]


def render_cluster_add_ons(spec: DeploymentSpec, acme_server: str = LETSENCRYPT_PRODUCTION,
                           acme_email: str | None = None) -> list[Manifest]:
    """Every add-on object, namespaces first within each add-on."""
    return [*device_plugin_objects(spec), *cert_manager_objects(spec, acme_server, acme_email)]
