"""Compose: pids, CPU and memory limits."""

from __future__ import annotations

from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, limit, services


def check(project, ctx):
    """Yield a violation per missing pids, CPU or memory limit."""
    for path, service in services(project):
        if limit(service, "pids", "pids_limit") in (None, "", 0, -1):
            yield f"{path} must set pids_limit (or deploy.resources.limits.pids)"
        if limit(service, "cpus", "cpus") in (None, "", 0):
            yield f"{path} must set deploy.resources.limits.cpus"
        if limit(service, "memory", "mem_limit") in (None, "", 0):
            yield f"{path} must set deploy.resources.limits.memory"


RULE = Rule(
    id="slm-compose-009",
    name="Every Compose service limits its process count, CPU and memory.",
    severity=Severity.MEDIUM,
    controls=("C-limits",),
    kinds=KINDS,
    rationale="A fork bomb or a model larger than planned otherwise takes the whole host down with it.",
    remediation="Set `pids_limit` and `deploy.resources.limits: {cpus, memory}` from the spec's sizing.",
    benchmarks=(bench(CIS_DOCKER, "5.10", "5.11", "5.28"),),
    check=check,
    tags=("compose", "availability"),
)
