"""Compose: no privileged services."""

from __future__ import annotations

from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services


def check(project, ctx):
    """Yield a violation per privileged service."""
    for path, service in services(project):
        if service.get("privileged") is True:
            yield f"{path}.privileged must not be true"


RULE = Rule(
    id="slm-compose-005",
    name="No Compose service runs privileged.",
    severity=Severity.CRITICAL,
    controls=("C-privileged",),
    kinds=KINDS,
    rationale="A privileged container gets every device and capability on the host; GPUs never need it.",
    remediation="Remove `privileged`; request GPUs with deploy.resources.reservations.devices.",
    benchmarks=(bench(CIS_DOCKER, "5.4"),),
    check=check,
    tags=("compose", "isolation"),
)
