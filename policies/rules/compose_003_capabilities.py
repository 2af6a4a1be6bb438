"""Compose: drop all capabilities."""

from __future__ import annotations

from slm_deploy.policies.access import items
from slm_deploy.policies.model import CIS_DOCKER, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services


def check(project, ctx):
    """Yield violations for capabilities kept or added beyond the allow-list."""
    allowed = {c.upper() for c in ctx.get_list("allowedCapabilities")}
    for path, service in services(project):
        if "ALL" not in {str(c).upper() for c in items(service.get("cap_drop"))}:
            yield f"{path}.cap_drop must contain ALL"
        if {str(c).upper() for c in items(service.get("cap_add"))} - allowed:
            yield f"{path}.cap_add lists capabilities outside allowedCapabilities"


RULE = Rule(
    id="slm-compose-003",
    name="Every Compose service drops all capabilities and adds back none beyond NET_BIND_SERVICE.",
    severity=Severity.HIGH,
    controls=("C-capabilities",),
    kinds=KINDS,
    rationale="Docker's default capability set includes NET_RAW and CHOWN; a model server needs none of them.",
    remediation="Set `cap_drop: [ALL]` and remove cap_add.",
    benchmarks=(bench(CIS_DOCKER, "5.3"),),
    check=check,
    tags=("compose", "privilege"),
    options=(Option("allowedCapabilities",
                    {"type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"]},
                    "Capabilities a service may add back."),),
)
