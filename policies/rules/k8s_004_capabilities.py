"""K4: drop ALL capabilities and add back at most NET_BIND_SERVICE."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get, is_list, items
from slm_deploy.policies.model import CIS_K8S, PSS, TRIVY, Option, Rule, Severity, bench


def check(manifest, ctx):
    """Yield violations for capabilities not dropped or added beyond the allow-list."""
    allowed = {c.upper() for c in ctx.get_list("allowedCapabilities")}
    for path, container in containers(manifest, ctx.kind):
        caps = get(container, "securityContext", "capabilities")
        drop = get(caps, "drop")
        if not (ctx.patch and drop is None):
            if not is_list(drop) or "ALL" not in {str(c).upper() for c in items(drop)}:
                yield f"{path}.securityContext.capabilities.drop must contain ALL"
        added = {str(c).upper() for c in items(get(caps, "add"))}
        if added - allowed:
            yield f"{path}.securityContext.capabilities.add lists capabilities outside allowedCapabilities"


RULE = Rule(
    id="slm-k8s-004",
    name="Containers drop all Linux capabilities and add back none beyond NET_BIND_SERVICE.",
    severity=Severity.HIGH,
    controls=("K4",),
    kinds=WORKLOAD_KINDS,
    rationale="Default capabilities such as NET_RAW allow spoofing and raw sockets, and added ones such as "
              "SYS_ADMIN are close to root; a model server needs none.",
    remediation='Set securityContext.capabilities: {drop: ["ALL"]} and remove `add` entries.',
    benchmarks=(bench(PSS, "restricted:capabilities"), bench(CIS_K8S, "5.2.8", "5.2.9", "5.2.10"),
                bench(TRIVY, "KSV-0003", "KSV-0004", "KSV-0005", "KSV-0022", "KSV-0106", "KSV-0119", "KSV-0120")),
    check=check,
    tags=("kubernetes", "privilege"),
    options=(Option("allowedCapabilities",
                    {"type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"]},
                    "Capabilities a container may add back after dropping ALL."),),
)
