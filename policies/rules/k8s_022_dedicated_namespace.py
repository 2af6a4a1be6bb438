"""K14 (workload side): workloads live in a dedicated namespace, never the cluster's or a cluster add-on's."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, get, items, labels_of
from slm_deploy.policies.model import CIS_K8S, TRIVY, Rule, Severity, bench
from slm_deploy.spec.cluster_namespaces import ADD_ON_NAMESPACES, is_system

NAMESPACED = WORKLOAD_KINDS | {"Service", "ServiceAccount", "ConfigMap", "Secret", "NetworkPolicy", "Role",
                               "RoleBinding", "Ingress", "PersistentVolumeClaim", "ResourceQuota", "LimitRange"}
APP_NAME = "app.kubernetes.io/name"
"""An add-on's own objects carry its name here, equal to its namespace's (as the device plugin's do)."""
NAMESPACE_NAME = "kubernetes.io/metadata.name"


def _peers_from_own_namespace(manifest, namespace: str) -> bool:
    """Whether a NetworkPolicy admits peers by naming its own namespace: the peer it means (the Prometheus that
    scrapes, the ingress controller) then runs where the deny-all policy and quota cover it too."""
    rules = [*items(get(manifest, "spec", "ingress")), *items(get(manifest, "spec", "egress"))]
    peers = [peer for rule in rules for peer in [*items(get(rule, "from")), *items(get(rule, "to"))]]
    return any(get(peer, "namespaceSelector", "matchLabels", NAMESPACE_NAME) == namespace for peer in peers)


def check(manifest, ctx):
    """Yield a violation when the object has no namespace, the cluster's, an add-on's, or shares its namespace
    with a peer it admits by namespace."""
    namespace = get(manifest, "metadata", "namespace")
    if namespace is None and ctx.patch:
        return
    if namespace in (None, ""):
        yield "metadata.namespace must be set explicitly to the deployment's namespace"
    elif is_system(namespace):
        yield "metadata.namespace is a reserved namespace (default or kube-*)"
    elif namespace in ADD_ON_NAMESPACES and labels_of(manifest).get(APP_NAME) != namespace:
        yield f"metadata.namespace is where {ADD_ON_NAMESPACES[namespace]} runs, not a namespace of the deployment's own"
    elif get(manifest, "kind") == "NetworkPolicy" and _peers_from_own_namespace(manifest, str(namespace)):
        yield ("admits peers by naming its own namespace: the Prometheus or ingress controller it means runs in the "
               "deployment's namespace, under its deny-all policy and quota")


RULE = Rule(
    id="slm-k8s-022",
    name="Namespaced objects are placed explicitly in a dedicated namespace, never default, kube-system or a "
         "cluster add-on's.",
    severity=Severity.MEDIUM,
    controls=("K14",),
    kinds=NAMESPACED,
    rationale="The default namespace usually has no Pod Security labels, quotas or default-deny policy, and "
              "kube-system is trusted by the control plane. A deployment's deny-all NetworkPolicy and quota in a "
              "cluster add-on's namespace (cert-manager, the ingress controller, the device plugin, KEDA, the "
              "monitoring stack) cut that add-on off and starve it.",
    remediation="Set metadata.namespace on every object to the deployment's dedicated namespace, one no cluster "
                "add-on runs in.",
    benchmarks=(bench(CIS_K8S, "5.7.4"), bench(TRIVY, "KSV-0110")),
    check=check,
    tags=("kubernetes", "isolation"),
)
