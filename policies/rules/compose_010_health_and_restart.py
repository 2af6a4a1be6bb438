"""Compose: a health check and a bounded on-failure restart policy."""

from __future__ import annotations

import re

from slm_deploy.policies.access import get, items
from slm_deploy.policies.model import CIS_DOCKER, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, awaited, services

ON_FAILURE = re.compile(r"^on-failure:([0-9]+)$")


def check(project, ctx):
    """Yield violations for missing or disabled health checks on servers and unbounded restarts."""
    maximum = ctx.get_int("maxRestarts")
    steps = awaited(project, "service_completed_successfully")
    for path, service in services(project):
        health = service.get("healthcheck")
        test = [str(t) for t in items(get(health, "test"))]
        if path not in steps and (health is None or get(health, "disable") is True or test[:1] == ["NONE"]):
            yield f"{path}.healthcheck must be set and enabled"
        restart = str(service.get("restart") or "")
        match = ON_FAILURE.match(restart)
        policy = get(service, "deploy", "restart_policy")
        if match:
            if int(match.group(1)) > maximum:
                yield f"{path}.restart allows more than {maximum} restarts"
        elif get(policy, "condition") == "on-failure" and get(policy, "max_attempts") is not None:
            if int(get(policy, "max_attempts")) > maximum:
                yield f"{path}.deploy.restart_policy.max_attempts exceeds {maximum}"
        else:
            yield f"{path}.restart must be on-failure:N with N at most {maximum}"


RULE = Rule(
    id="slm-compose-010",
    name="Every long-running Compose service has a health check; every service restarts only on failure, a "
         "bounded number of times.",
    severity=Severity.LOW,
    controls=("C-health",),
    kinds=KINDS,
    rationale="Health checks make `depends_on: service_healthy` and monitoring meaningful; unbounded "
              "restarts hide crash loops and can be used to exhaust the host. A step other services wait for "
              "to complete (`service_completed_successfully`) serves nothing a health check could probe.",
    remediation="Add a healthcheck against the runtime's health endpoint and `restart: on-failure:5`.",
    benchmarks=(bench(CIS_DOCKER, "5.14", "5.26"),),
    check=check,
    tags=("compose", "availability"),
    options=(Option("maxRestarts", {"type": "integer", "minimum": 1, "default": 5},
                    "Most restarts on-failure may allow."),),
)
