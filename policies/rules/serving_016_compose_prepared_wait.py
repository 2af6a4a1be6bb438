"""Serving: on Compose, a server of a prepared model starts only after the step that checks the model succeeded."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._compose import KINDS, component_of, is_model_prep, services
from slm_deploy.policies.rules.serving_015_prepared_model_check import records_preparation

COMPLETED = "service_completed_successfully"


def _named_volumes(service: Mapping[str, Any]) -> set[str]:
    """The sources of the service's volumes (short `name:/path` or long form)."""
    found = set()
    for volume in items(service.get("volumes")):
        source = volume.get("source") if isinstance(volume, Mapping) else str(volume).split(":", 1)[0]
        if source:
            found.add(str(source))
    return found


def _script(service: Mapping[str, Any]) -> str:
    """Every word the service runs (entrypoint and command, string or list form), joined."""
    return "\n".join(str(w) for key in ("entrypoint", "command") for w in items(service.get(key)))


def _checking_steps(project: Any) -> dict[str, set[str]]:
    """The preparation steps that check and record a prepared model, each with the volumes it writes to."""
    return {path.removeprefix("services."): _named_volumes(service) for path, service in services(project)
            if is_model_prep(service) and records_preparation(_script(service))}


def check(project: Any, ctx) -> Iterator[str]:
    """Yield a violation per server sharing a prepared model's volume without waiting for its check to succeed."""
    steps = _checking_steps(project)
    for path, service in services(project):
        if component_of(service) != "runtime":
            continue
        waits = mapping(service.get("depends_on"))
        volumes = _named_volumes(service)
        for step, written in sorted(steps.items()):
            if written & volumes and get(waits.get(step), "condition") != COMPLETED:
                yield (f"{path} serves the model {step} prepares without depends_on.{step}.condition: {COMPLETED}: "
                       "it may start on a model the check refused or has not checked yet")


RULE = Rule(
    id="slm-serving-016",
    name="On Compose, a server of a prepared model waits for the model's check to complete successfully.",
    severity=Severity.HIGH,
    controls=("S-prepared-model",),
    kinds=KINDS,
    rationale="The preparation step compares the model volume's PROVENANCE and SHA256SUMS and exits non-zero on a "
              "model made from another revision or changed since; only a depends_on with condition "
              "service_completed_successfully keeps Compose from starting the server on that volume anyway.",
    remediation="Keep the rendered depends_on of the server on the preparation step with condition "
                "service_completed_successfully; re-render instead of removing it.",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain", "model-preparation"),
)
