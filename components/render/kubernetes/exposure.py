"""The one way in from outside: an Ingress with TLS from cert-manager, always to the gateway Service."""

from __future__ import annotations

from slm_deploy.render.kubernetes.common import Manifest, bounded_name, meta
from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.spec.loader import Deployment

CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
STREAMING = {
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
}
"""Token streams are long-lived server-sent events; NGINX-based controllers would buffer and cut them."""


def tls_secret(deployment: Deployment) -> str:
    """Where cert-manager stores the certificate it issues for the host."""
    return deployment.spec.exposure.tls.secret_name or bounded_name(deployment.spec.name, "tls")


def ingress(deployment: Deployment, gateway: ServicePlan) -> Manifest:
    """HTTPS for exposure.host, routed only to the gateway (which checks API keys before the runtime sees anything)."""
    exposure = deployment.spec.exposure
    annotations = {CLUSTER_ISSUER: exposure.tls.issuer, **STREAMING}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": meta(deployment, gateway.name, dict(gateway.labels), annotations),
        "spec": {
            "ingressClassName": exposure.ingress_class,
            "tls": [{"hosts": [exposure.host], "secretName": tls_secret(deployment)}],
            "rules": [{"host": exposure.host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": gateway.name, "port": {"number": gateway.port}}}}]}}],
        },
    }
