"""Compose: services run as a numeric non-root UID:GID."""

from __future__ import annotations

import re

from slm_deploy.policies.model import CIS_DOCKER, Option, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

USER = re.compile(r"^([0-9]+):([0-9]+)$")


def check(project, ctx):
    """Yield a violation per service without a high numeric user."""
    minimum = ctx.get_int("minUid")
    for path, service in services(project):
        match = USER.match(str(service.get("user") or ""))
        if not match:
            yield f"{path}.user must be a numeric UID:GID"
        elif int(match.group(1)) < minimum or int(match.group(2)) < minimum:
            yield f"{path}.user UID and GID must both be at least {minimum}"


RULE = Rule(
    id="slm-compose-001",
    name="Every Compose service runs as a numeric UID:GID of at least 10001.",
    severity=Severity.HIGH,
    controls=("C-user",),
    kinds=KINDS,
    rationale="Images from upstream (Ollama, vLLM) default to root; setting the user in Compose keeps them "
              "non-root even when the image does not.",
    remediation='Set `user: "10001:10001"` on every service and give writable paths to that user.',
    benchmarks=(bench(CIS_DOCKER, "4.1", "5.x-user"),),
    check=check,
    tags=("compose", "identity"),
    options=(Option("minUid", {"type": "integer", "minimum": 1, "default": 10001},
                    "Lowest UID and GID accepted."),),
)
