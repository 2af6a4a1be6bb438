"""Compose: GPUs through device reservations, never raw devices."""

from __future__ import annotations

from slm_deploy.policies.access import items
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services


def check(project, ctx):
    """Yield a violation per service mapping raw host devices."""
    for path, service in services(project):
        if items(service.get("devices")):
            yield f"{path}.devices maps raw host devices; request GPUs through deploy.resources.reservations"


RULE = Rule(
    id="slm-compose-014",
    name="Compose services get GPUs through device reservations, never raw device mappings.",
    severity=Severity.HIGH,
    controls=("C-gpu",),
    kinds=KINDS,
    rationale="Raw /dev mappings bypass the NVIDIA runtime's isolation and can expose other host devices.",
    remediation="Use `deploy.resources.reservations.devices: [{driver: nvidia, count: N, capabilities: [gpu]}]`.",
    benchmarks=(bench(CIS_DOCKER, "5.18"),),
    check=check,
    tags=("compose", "gpu"),
)
