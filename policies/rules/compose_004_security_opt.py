"""Compose: no-new-privileges on, confinement never switched off."""

from __future__ import annotations

from slm_deploy.policies.access import items
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

NO_NEW_PRIVILEGES = frozenset({"no-new-privileges:true", "no-new-privileges=true", "no-new-privileges"})
UNCONFINED = ("seccomp:unconfined", "seccomp=unconfined", "apparmor:unconfined", "apparmor=unconfined",
              "label:disable", "label=disable", "systempaths=unconfined")


def check(project, ctx):
    """Yield violations for missing no-new-privileges and unconfined profiles."""
    for path, service in services(project):
        options = [str(o).strip().lower() for o in items(service.get("security_opt"))]
        if not NO_NEW_PRIVILEGES & set(options):
            yield f"{path}.security_opt must contain no-new-privileges:true"
        if any(o in UNCONFINED for o in options):
            yield f"{path}.security_opt switches off seccomp, AppArmor or SELinux confinement"


RULE = Rule(
    id="slm-compose-004",
    name="Every Compose service sets no-new-privileges and never runs unconfined.",
    severity=Severity.HIGH,
    controls=("C-security-opt",),
    kinds=KINDS,
    rationale="no-new-privileges blocks setuid escalation; unconfined seccomp or AppArmor removes the "
              "kernel attack-surface reduction Docker applies by default.",
    remediation='Set `security_opt: ["no-new-privileges:true"]` and remove any *:unconfined entries.',
    benchmarks=(bench(CIS_DOCKER, "5.1", "5.2", "5.21", "5.25"),),
    check=check,
    tags=("compose", "privilege"),
)
