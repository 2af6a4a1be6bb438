"""KEDA's scaling decision for one prometheus trigger, as its documentation and source state it.

- The prometheus scaler runs the query; the first sample's value is the metric (an empty result is an
  error unless `ignoreNullValues`; the rendered queries never return empty).
- The trigger is active when value > activationThreshold (pkg/scalers/prometheus_scaler.go).
- Active with 0 replicas (or below minReplicaCount with idleReplicaCount set): KEDA scales to
  max(minReplicaCount, 1) (scaleFromZeroOrIdle). Inactive past cooldownPeriod with minReplicaCount 0 or
  idleReplicaCount set: KEDA scales to idleReplicaCount, else 0 (scaleToZeroOrIdle).
- Otherwise the HPA KEDA creates decides, with the metric as an AverageValue target of `threshold`:
  desired = ceil(value / threshold), clamped to [max(minReplicaCount, 1), maxReplicaCount]; within 10% of
  the current ratio it keeps the current count (the HPA's default tolerance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HPA_TOLERANCE = 0.1


@dataclass(frozen=True)
class Decision:
    active: bool
    replicas: int
    why: str


def decide(value: float, current: int, spec: dict) -> Decision:
    """Replicas KEDA (and its HPA) converge on for one evaluation of the trigger, after the cooldown."""
    (trigger,) = spec["triggers"]
    threshold = float(trigger["metadata"]["threshold"])
    activation = float(trigger["metadata"].get("activationThreshold", 0))
    low, high = spec.get("minReplicaCount", 0), spec["maxReplicaCount"]
    idle = spec.get("idleReplicaCount")
    active = value > activation
    if not active:
        if idle is not None or low == 0:
            return Decision(False, idle if idle is not None else 0, "inactive past the cooldown: idle or zero")
        return Decision(False, max(low, current), "inactive: the HPA keeps at least minReplicaCount")
    if current == 0 or (idle is not None and current < low):
        current = max(low, 1)  # KEDA wakes the target; the HPA takes over from there
    desired = math.ceil(value / threshold)
    if abs(value / (threshold * current) - 1) <= HPA_TOLERANCE:
        desired = current
    return Decision(True, min(max(desired, low, 1), high), f"ceil({value:g} / {threshold:g}) clamped")
