"""K6: a RuntimeDefault or Localhost seccomp profile at pod and container level."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, dotted, get, pod_spec, pod_spec_path
from slm_deploy.policies.model import CIS_K8S, NSA, PSS, TRIVY, Rule, Severity, bench

ALLOWED = frozenset({"RuntimeDefault", "Localhost"})


def _profile(sc, path: str, ctx):
    """A violation when a securityContext lacks an allowed seccomp profile."""
    kind = get(sc, "seccompProfile", "type")
    if kind is None and ctx.patch:
        return
    if kind not in ALLOWED:
        yield f"{path}.securityContext.seccompProfile.type must be RuntimeDefault or Localhost"


def check(manifest, ctx):
    """Yield violations for missing or unconfined seccomp profiles."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    yield from _profile(spec.get("securityContext"), dotted(pod_spec_path(ctx.kind)), ctx)
    for path, container in containers(manifest, ctx.kind):
        yield from _profile(container.get("securityContext"), path, ctx)


RULE = Rule(
    id="slm-k8s-006",
    name="Pods and containers use the RuntimeDefault (or a Localhost) seccomp profile.",
    severity=Severity.MEDIUM,
    controls=("K6",),
    kinds=WORKLOAD_KINDS,
    rationale="Without seccomp every system call is reachable, including the rarely used ones most kernel "
              "exploits rely on.",
    remediation="Set securityContext.seccompProfile: {type: RuntimeDefault} on the pod and on each container.",
    benchmarks=(bench(PSS, "restricted:seccompProfile"), bench(CIS_K8S, "5.7.2"), bench(NSA, "1.10"),
                bench(TRIVY, "KSV-0030", "KSV-0104")),
    check=check,
    tags=("kubernetes", "isolation"),
)
