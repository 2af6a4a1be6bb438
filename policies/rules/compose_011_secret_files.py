"""Compose: secrets come from top-level secrets, mounted under /run/secrets."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services


def check(project, ctx):
    """Yield violations for undeclared secrets or secrets mounted outside /run/secrets."""
    declared = {str(k) for k in mapping(get(project, "secrets")).keys()}
    for path, service in services(project):
        for index, ref in enumerate(items(service.get("secrets"))):
            source = ref.get("source") if isinstance(ref, Mapping) else ref
            target = ref.get("target") if isinstance(ref, Mapping) else None
            if str(source) not in declared:
                yield f"{path}.secrets[{index}] is not declared under the top-level secrets"
            if isinstance(target, str) and target.startswith("/") and not target.startswith("/run/secrets/"):
                yield f"{path}.secrets[{index}].target must be under /run/secrets"


RULE = Rule(
    id="slm-compose-011",
    name="Compose services receive secrets from top-level secrets mounted under /run/secrets.",
    severity=Severity.HIGH,
    controls=("C-secrets",),
    kinds=KINDS,
    rationale="Secret mounts are tmpfs files readable only by the service; anything else ends up in the "
              "image, the environment or `docker inspect`.",
    remediation="Declare each secret under the top-level `secrets:` with `file:` and reference it from the "
                "service; point the runtime at /run/secrets/<name>.",
    benchmarks=(bench(CIS_DOCKER, "4.10"),),
    check=check,
    tags=("compose", "secrets"),
)
