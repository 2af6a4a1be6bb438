"""K18: securityContext written out at pod and container level."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, dotted, pod_spec, pod_spec_path
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per pod or container without an explicit securityContext."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None or ctx.patch:
        return
    if not isinstance(spec.get("securityContext"), Mapping) or not spec.get("securityContext"):
        yield f"{dotted(pod_spec_path(ctx.kind))}.securityContext must be set"
    for path, container in containers(manifest, ctx.kind):
        if not isinstance(container.get("securityContext"), Mapping) or not container.get("securityContext"):
            yield f"{path}.securityContext must be set"


RULE = Rule(
    id="slm-k8s-018",
    name="Pods and containers spell out a securityContext.",
    severity=Severity.HIGH,
    controls=("K18",),
    kinds=WORKLOAD_KINDS,
    rationale="Relying on runtime defaults makes the security posture depend on the cluster; an explicit "
              "securityContext is what reviewers and scanners can verify.",
    remediation="Render the hardened pod and container securityContext on every workload.",
    benchmarks=(bench(TRIVY, "KSV-0118"),),
    check=check,
    tags=("kubernetes",),
)
