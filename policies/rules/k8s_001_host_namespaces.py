"""K1: pods do not share the node's network, PID or IPC namespaces."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, dotted, is_true, pod_spec, pod_spec_path
from slm_deploy.policies.model import CIS_K8S, NSA, PSS, TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per host namespace the pod joins."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    base = dotted(pod_spec_path(ctx.kind))
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(spec.get(field)):
            yield f"{base}.{field} is true; pods must not share the node's namespaces"


RULE = Rule(
    id="slm-k8s-001",
    name="Pods do not use the host network, PID or IPC namespaces.",
    severity=Severity.HIGH,
    controls=("K1",),
    kinds=WORKLOAD_KINDS,
    rationale="Host namespaces let a pod see and signal node processes, sniff node traffic and read other "
              "workloads' shared memory.",
    remediation="Remove hostNetwork, hostPID and hostIPC (or set them to false); give vLLM shared memory "
                "through an emptyDir with medium Memory at /dev/shm.",
    benchmarks=(bench(PSS, "baseline:hostNamespaces"), bench(CIS_K8S, "5.2.3", "5.2.4", "5.2.5"),
                bench(NSA, "1.3", "1.4", "1.5"), bench(TRIVY, "KSV-0008", "KSV-0009", "KSV-0010")),
    check=check,
    tags=("kubernetes", "isolation"),
)
