"""The cluster's own namespaces and those of the add-ons a bundle installs or relies on: one table for the spec's
checks, the renderers that place the add-ons and the policy pack (pure, so the pack imports it without pydantic).

A deployment's namespace gets a deny-all NetworkPolicy, a ResourceQuota and a LimitRange: in an add-on's namespace
they would cut the add-on off and starve it, so a deployment never shares one."""

from __future__ import annotations

SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""Kubernetes' own namespaces (AKS runs its managed add-ons, KEDA and the Key Vault CSI driver among them, in
kube-system)."""
CERT_MANAGER_NAMESPACE = "cert-manager"
"""Where the cert-manager release runs (installed for an Ingress on AKS, relied on for TLS elsewhere)."""
DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin"
"""Where the NVIDIA device plugin runs (installed with a GPU pool on AKS)."""
APP_ROUTING_NAMESPACE = "app-routing-system"
"""Where AKS's application routing add-on runs its managed NGINX."""
DEFAULT_INGRESS_NAMESPACE = "ingress-nginx"
"""Where the ingress-nginx project's manifests and chart install the controller."""
KEDA_NAMESPACE = "keda"
"""Where KEDA's chart installs the operator that reads the deployment's ScaledObjects."""
GATEKEEPER_NAMESPACE = "gatekeeper-system"
"""Where Azure Policy's add-on (enabled on every AKS cluster the spec creates) runs Gatekeeper."""
EXTERNAL_SECRETS_NAMESPACE = "external-secrets"
"""Where External Secrets Operator's chart installs the operator the external-secrets backend relies on."""

ADD_ON_NAMESPACES: dict[str, str] = {
    CERT_MANAGER_NAMESPACE: "cert-manager",
    DEVICE_PLUGIN_NAMESPACE: "the NVIDIA device plugin",
    APP_ROUTING_NAMESPACE: "AKS application routing",
    DEFAULT_INGRESS_NAMESPACE: "ingress-nginx",
    KEDA_NAMESPACE: "KEDA",
    GATEKEEPER_NAMESPACE: "Azure Policy (Gatekeeper)",
    EXTERNAL_SECRETS_NAMESPACE: "External Secrets Operator",
}
"""Namespace -> the add-on that runs there."""


def is_system(namespace: object) -> bool:
    """Kubernetes' own namespaces and the `kube-` prefix it reserves for them (no user namespace takes it)."""
    return namespace in SYSTEM_NAMESPACES or (isinstance(namespace, str) and namespace.startswith("kube-"))


def taken_by(namespace: str) -> str | None:
    """What already runs in `namespace`: the cluster itself, an add-on, or nothing (None)."""
    if is_system(namespace):
        return "the cluster itself"
    return ADD_ON_NAMESPACES.get(namespace)
