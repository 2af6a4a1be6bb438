"""Waivers: a rule switched off for one resource, always with a reason that the report shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slm_deploy.errors import SlmDeployError
from slm_deploy.policies.registry import all_rules


class WaiverError(SlmDeployError):
    """A waiver is malformed: no reason, an unknown rule or no resource."""


@dataclass(frozen=True)
class Waiver:
    """Rule `rule` does not apply to `resource` (Kind/name, Kind/namespace/name or a bundle path) because `reason`."""

    rule: str
    resource: str
    reason: str

    def matches(self, rule_id: str, resource: str, location: str) -> bool:
        """Whether this waiver covers a finding of rule_id on resource (or at location)."""
        if self.rule != rule_id:
            return False
        if self.resource in (resource, location):
            return True
        kind, _, rest = resource.partition("/")
        return "/" in rest and self.resource == f"{kind}/{rest.rsplit('/', 1)[-1]}"


def _field(raw: Mapping[str, Any], index: int, *names: str) -> str:
    """A required non-empty text field of a raw waiver."""
    for name in names:
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise WaiverError(f"waivers[{index}].{names[0]}: missing or empty; a waiver needs a rule id, a resource "
                      "and a reason\n  hint: e.g. {rule: slm-k8s-012, resource: Deployment/llm/vllm, "
                      "reason: \"...\"}")


def load_waivers(raw: Iterable[Mapping[str, Any] | Waiver] | None) -> tuple[Waiver, ...]:
    """Validate raw waivers; an empty reason or an unknown rule id is an error, never ignored."""
    known = {r.id for r in all_rules()}
    out: list[Waiver] = []
    for index, item in enumerate(raw or ()):
        if isinstance(item, Waiver):
            item = {"rule": item.rule, "resource": item.resource, "reason": item.reason}
        if not isinstance(item, Mapping):
            raise WaiverError(f"waivers[{index}]: must be a mapping with rule, resource and reason")
        rule = _field(item, index, "rule", "id")
        resource = _field(item, index, "resource")
        reason = _field(item, index, "reason")
        if rule not in known:
            raise WaiverError(f"waivers[{index}].rule: unknown rule id\n  allowed: an id from "
                              "docs/policy-catalogue.md (slm-<area>-<nnn>)")
        out.append(Waiver(rule, resource, reason))
    return tuple(out)
