"""K2: no privileged containers."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get, is_true
from slm_deploy.policies.model import CIS_K8S, NSA, PSS, TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per privileged container."""
    for path, container in containers(manifest, ctx.kind):
        if is_true(get(container, "securityContext", "privileged")):
            yield f"{path}.securityContext.privileged is true"


RULE = Rule(
    id="slm-k8s-002",
    name="No container runs privileged.",
    severity=Severity.CRITICAL,
    controls=("K2",),
    kinds=WORKLOAD_KINDS,
    rationale="A privileged container has every capability and all host devices; it is root on the node.",
    remediation="Remove securityContext.privileged; request GPUs through resources.limits (nvidia.com/gpu) "
                "and the device plugin instead.",
    benchmarks=(bench(PSS, "baseline:privileged"), bench(CIS_K8S, "5.2.2"), bench(NSA, "1.2"),
                bench(TRIVY, "KSV-0017")),
    check=check,
    tags=("kubernetes", "isolation"),
)
