"""K14 (workload side): workloads live in a dedicated namespace."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, get
from slm_deploy.policies.model import CIS_K8S, TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules.k8s_014_namespace_pod_security import RESERVED

NAMESPACED = WORKLOAD_KINDS | {"Service", "ServiceAccount", "ConfigMap", "Secret", "NetworkPolicy", "Role",
                               "RoleBinding", "Ingress", "PersistentVolumeClaim"}


def check(manifest, ctx):
    """Yield a violation when the object has no namespace or a reserved one."""
    namespace = get(manifest, "metadata", "namespace")
    if namespace is None and ctx.patch:
        return
    if namespace in (None, ""):
        yield "metadata.namespace must be set explicitly to the deployment's namespace"
    elif namespace in RESERVED:
        yield "metadata.namespace is a reserved namespace (default or kube-*)"


RULE = Rule(
    id="slm-k8s-022",
    name="Namespaced objects are placed explicitly in a dedicated namespace, never default or kube-system.",
    severity=Severity.MEDIUM,
    controls=("K14",),
    kinds=NAMESPACED,
    rationale="The default namespace usually has no Pod Security labels, quotas or default-deny policy, and "
              "kube-system is trusted by the control plane.",
    remediation="Set metadata.namespace on every object to the deployment's dedicated namespace.",
    benchmarks=(bench(CIS_K8S, "5.7.4"), bench(TRIVY, "KSV-0110")),
    check=check,
    tags=("kubernetes", "isolation"),
)
