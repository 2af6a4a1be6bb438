"""Compose: an init process reaps zombies and forwards signals."""

from __future__ import annotations

from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._compose import KINDS, services


def check(project, ctx):
    """Yield a violation per service without init: true."""
    for path, service in services(project):
        if service.get("init") is not True:
            yield f"{path}.init must be true"


RULE = Rule(
    id="slm-compose-013",
    name="Every Compose service runs with an init process.",
    severity=Severity.LOW,
    controls=("C-init",),
    kinds=KINDS,
    rationale="Model servers spawn workers; without an init process, zombies accumulate and SIGTERM may "
              "never reach the server, so shutdown is not graceful.",
    remediation="Set `init: true`.",
    benchmarks=(),
    check=check,
    tags=("compose", "availability"),
)
