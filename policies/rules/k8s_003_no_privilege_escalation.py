"""K3: allowPrivilegeEscalation is explicitly false."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get
from slm_deploy.policies.model import CIS_K8S, NSA, PSS, TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per container that does not forbid privilege escalation."""
    for path, container in containers(manifest, ctx.kind):
        value = get(container, "securityContext", "allowPrivilegeEscalation")
        if value is False or (ctx.patch and value is None):
            continue
        yield f"{path}.securityContext.allowPrivilegeEscalation must be false"


RULE = Rule(
    id="slm-k8s-003",
    name="Every container sets allowPrivilegeEscalation to false.",
    severity=Severity.HIGH,
    controls=("K3",),
    kinds=WORKLOAD_KINDS,
    rationale="Unless explicitly disabled, setuid binaries and file capabilities let a process gain more "
              "privileges than its parent (no_new_privs is off).",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container, init container "
                "and ephemeral container.",
    benchmarks=(bench(PSS, "restricted:allowPrivilegeEscalation"), bench(CIS_K8S, "5.2.6"), bench(NSA, "1.7"),
                bench(TRIVY, "KSV-0001")),
    check=check,
    tags=("kubernetes", "privilege"),
)
