"""K5: pods and containers run as a high non-root UID and GID."""

from __future__ import annotations

from slm_deploy.policies.access import (WORKLOAD_KINDS, as_number, containers, dotted, get, items, pod_spec,
                                        pod_spec_path)
from slm_deploy.policies.model import CIS_K8S, NSA, PSS, TRIVY, Option, Rule, Severity, bench


def _identity(sc, path: str, ctx, minimum: int):
    """Violations for one securityContext's runAsNonRoot/runAsUser/runAsGroup."""
    non_root = get(sc, "runAsNonRoot")
    if non_root is not True and not (ctx.patch and non_root is None):
        yield f"{path}.securityContext.runAsNonRoot must be true"
    for field in ("runAsUser", "runAsGroup"):
        value = get(sc, field)
        if value is None and ctx.patch:
            continue
        number = as_number(value)
        if number is None or number < minimum:
            yield f"{path}.securityContext.{field} must be set to at least {minimum}"


def check(manifest, ctx):
    """Yield violations for root or low IDs at pod and container level."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    minimum = ctx.get_int("minUid")
    base = dotted(pod_spec_path(ctx.kind))
    sc = spec.get("securityContext")
    yield from _identity(sc, base, ctx, minimum)
    fs_group = get(sc, "fsGroup")
    if not (fs_group is None and ctx.patch):
        number = as_number(fs_group)
        if number is None or number == 0:
            yield f"{base}.securityContext.fsGroup must be set to a non-zero group"
    if any(as_number(g) == 0 for g in items(get(sc, "supplementalGroups"))):
        yield f"{base}.securityContext.supplementalGroups must not contain group 0"
    for path, container in containers(manifest, ctx.kind):
        yield from _identity(container.get("securityContext"), path, ctx, minimum)


RULE = Rule(
    id="slm-k8s-005",
    name="Pods and containers run as non-root with UID and GID of at least 10001 and a non-zero fsGroup.",
    severity=Severity.HIGH,
    controls=("K5",),
    kinds=WORKLOAD_KINDS,
    rationale="Root inside a container is root on the node after an escape; a high UID cannot collide with "
              "host accounts, and per-container fields are what per-container scanners read.",
    remediation="Set runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 at pod and container level, "
                "fsGroup: 10001 at pod level, and keep 0 out of supplementalGroups.",
    benchmarks=(bench(PSS, "restricted:runAsNonRoot", "restricted:runAsUser"), bench(CIS_K8S, "5.2.7"),
                bench(NSA, "1.0", "1.6"), bench(TRIVY, "KSV-0012", "KSV-0020", "KSV-0021", "KSV-0105", "KSV-0116")),
    check=check,
    tags=("kubernetes", "identity"),
    options=(Option("minUid", {"type": "integer", "minimum": 1, "default": 10001},
                    "Lowest runAsUser/runAsGroup accepted."),),
)
