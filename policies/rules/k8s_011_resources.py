"""K11: CPU and memory requests and limits on every container."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get
from slm_deploy.policies.model import NSA, TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per missing CPU or memory request or limit."""
    for path, container in containers(manifest, ctx.kind):
        if ".ephemeralContainers[" in path:
            continue
        resources = container.get("resources")
        if ctx.patch and resources is None:
            continue
        for section in ("requests", "limits"):
            for name in ("cpu", "memory"):
                if get(resources, section, name) in (None, ""):
                    yield f"{path}.resources.{section}.{name} must be set"


RULE = Rule(
    id="slm-k8s-011",
    name="Every container sets CPU and memory requests and limits.",
    severity=Severity.MEDIUM,
    controls=("K11",),
    kinds=WORKLOAD_KINDS,
    rationale="Without limits one model server that loads a larger model than planned starves the node; "
              "without requests the scheduler overcommits it.",
    remediation="Set resources.requests and resources.limits for cpu and memory (the spec's sizing fills "
                "them in), and GPUs through limits[nvidia.com/gpu].",
    benchmarks=(bench(NSA, "4.0", "4.1"), bench(TRIVY, "KSV-0011", "KSV-0015", "KSV-0016", "KSV-0018")),
    check=check,
    tags=("kubernetes", "availability"),
)
