"""cert-manager: its namespace, the chart release (values running every image by digest) and the ClusterIssuer the
rendered Ingress names."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.pod_security import pod_security_labels
from slm_deploy.spec.cluster_namespaces import CERT_MANAGER_NAMESPACE
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.images import pinned_row

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
CERT_MANAGER_CHART = "cert-manager"
CERT_MANAGER_VERSION = "v1.19.1"
CERT_MANAGER_REPOSITORY = "https://charts.jetstack.io"
"""The only supported source of cert-manager charts."""
CHART_IMAGES = {"": "cert-manager-controller", "webhook": "cert-manager-webhook",
                "cainjector": "cert-manager-cainjector", "acmesolver": "cert-manager-acmesolver"}
"""Values section -> pins-table key of the image it runs (the controller's is at the top level)."""


def _image(spec: DeploymentSpec, key: str) -> dict[str, str]:
    """The chart's image setting: the pinned repository (mirrored), its tag, and the digest, which wins."""
    ref = pinned_row(key, spec.security.base_images, spec.security.registry_mirror)
    return {"repository": ref.name, "tag": ref.tag, "digest": ref.digest}


def cert_manager_values(spec: DeploymentSpec) -> dict[str, Any]:
    """Chart values: CRDs with the release, leader election in its own namespace, restricted contexts, every image
    by digest (the API check Job, whose image has no public digest record, is off: the release waits anyway)."""
    pod = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                 "capabilities": {"drop": ["ALL"]}}
    hardened = {"securityContext": pod, "containerSecurityContext": container}
    replicated = {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}, **hardened}
    return {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": CERT_MANAGER_NAMESPACE}},
        "prometheus": {"enabled": True},
        **replicated,
        "image": _image(spec, CHART_IMAGES[""]),
        "webhook": {**replicated, "image": _image(spec, CHART_IMAGES["webhook"])},
        "cainjector": {**replicated, "image": _image(spec, CHART_IMAGES["cainjector"])},
        "acmesolver": {"image": _image(spec, CHART_IMAGES["acmesolver"])},
        "startupapicheck": {"enabled": False},
    }


def cert_manager_release(spec: DeploymentSpec) -> Manifest:
    """The Helm release `pulumi up` installs, in the shape of its helm.sh/v3 Release, so `check` judges it."""
    return {"apiVersion": "helm.sh/v3", "kind": "Release",
            "metadata": {"name": CERT_MANAGER_CHART, "namespace": CERT_MANAGER_NAMESPACE},
            "chart": CERT_MANAGER_CHART, "version": CERT_MANAGER_VERSION,
            "repositoryOpts": {"repo": CERT_MANAGER_REPOSITORY}, "values": cert_manager_values(spec)}


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
