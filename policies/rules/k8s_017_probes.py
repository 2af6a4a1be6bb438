"""K17: liveness and readiness probes on long-running containers."""

from __future__ import annotations

from slm_deploy.policies.access import main_containers
from slm_deploy.policies.model import Rule, Severity

LONG_RUNNING = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})


def check(manifest, ctx):
    """Yield a violation per long-running container missing a liveness or readiness probe."""
    for path, container in main_containers(manifest, ctx.kind):
        for probe in ("livenessProbe", "readinessProbe"):
            if container.get(probe) is None and not ctx.patch:
                yield f"{path}.{probe} must be set"


RULE = Rule(
    id="slm-k8s-017",
    name="Long-running containers declare liveness and readiness probes.",
    severity=Severity.MEDIUM,
    controls=("K17",),
    kinds=LONG_RUNNING,
    rationale="Without readiness, traffic reaches a server that is still loading weights; without liveness, a "
              "wedged server keeps its slot forever.",
    remediation="Add a readinessProbe (vLLM /v1/models, llama.cpp /health) and a livenessProbe (/health); "
                "slow model loads also need a startupProbe (see slm-serving-005).",
    benchmarks=(),
    check=check,
    tags=("kubernetes", "availability"),
)
