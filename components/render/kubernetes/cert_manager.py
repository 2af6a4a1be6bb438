"""cert-manager's objects outside its chart: its namespace and the ClusterIssuer the rendered Ingress names."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.pod_security import pod_security_labels
from slm_deploy.spec.deployment import DeploymentSpec

CERT_MANAGER_NAMESPACE = "cert-manager"
LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def cert_manager_namespace(spec: DeploymentSpec) -> Manifest:
    """cert-manager's namespace enforces the restricted profile like every other namespace of the stack."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": CERT_MANAGER_NAMESPACE, "labels": pod_security_labels(spec)}}


def cluster_issuer(spec: DeploymentSpec, acme_server: str, acme_email: str | None) -> Manifest:
    """The ClusterIssuer the rendered Ingress names: ACME, HTTP-01 through the rendered Ingress's class."""
    issuer = spec.exposure.tls.issuer
    acme: dict[str, Any] = {
        "server": acme_server,
        "privateKeySecretRef": {"name": f"{issuer}-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": spec.exposure.ingress_class}}}],
    }
    if acme_email:
        acme["email"] = acme_email
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": issuer},
            "spec": {"acme": acme}}
