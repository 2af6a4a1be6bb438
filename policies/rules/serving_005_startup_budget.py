"""Serving: a startupProbe whose budget fits the model's load time."""

from __future__ import annotations

from slm_deploy.policies.access import annotations_of, as_number, get, main_containers, mapping
from slm_deploy.policies.model import Option, Rule, Severity
from slm_deploy.policies.rules._serving import COMPONENT, WEIGHTS

GIB = 1024 ** 3
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"})


def budget_seconds(probe) -> float:
    """How long a startup probe tolerates failure: initialDelay + period x failureThreshold."""
    delay = as_number(get(probe, "initialDelaySeconds")) or 0.0
    period = as_number(get(probe, "periodSeconds")) or 10.0
    threshold = as_number(get(probe, "failureThreshold")) or 3.0
    return delay + period * threshold


def required_seconds(weights_bytes: float, base: int, per_gib: int) -> float:
    """Load-time budget: a fixed base plus a per-GiB allowance for the weights."""
    return base + per_gib * weights_bytes / GIB


def _weights(manifest):
    """The weights annotation from the workload or its pod template."""
    template = mapping(get(manifest, "spec", "template", "metadata", "annotations"))
    return annotations_of(manifest).get(WEIGHTS, template.get(WEIGHTS))


def check(manifest, ctx):
    """Yield violations for model servers whose startup probe budget is missing or too short."""
    labels = {**mapping(get(manifest, "metadata", "labels")),
              **mapping(get(manifest, "spec", "template", "metadata", "labels"))}
    weights = _weights(manifest)
    if labels.get(COMPONENT) != "runtime" and weights is None:
        return
    size = as_number(weights)
    if size is None or size < 0:
        if not ctx.patch:
            yield f"metadata.annotations[{WEIGHTS}] must give the model weights size in bytes"
        return
    need = required_seconds(size, ctx.get_int("baseSeconds"), ctx.get_int("secondsPerGiB"))
    probes = [c.get("startupProbe") for _, c in main_containers(manifest, ctx.kind) if c.get("startupProbe")]
    if not probes:
        if not ctx.patch:
            yield "the model server has no startupProbe"
        return
    if max(budget_seconds(p) for p in probes) < need:
        yield f"the startupProbe allows less than the {int(need)} s the model needs to load " \
              "(initialDelaySeconds + periodSeconds x failureThreshold)"


RULE = Rule(
    id="slm-serving-005",
    name="Model servers have a startupProbe whose budget covers 15 minutes plus 18 seconds per GiB of weights.",
    severity=Severity.MEDIUM,
    controls=("S-startup-budget", "K17"),
    kinds=LONG_RUNNING,
    rationale="Liveness probes kill a server that is still downloading or loading weights, which then "
              "restarts the download forever; the budget grows with the model size.",
    remediation="Annotate the workload with slm-deploy.io/weights-bytes and give the runtime container a "
                "startupProbe with periodSeconds x failureThreshold at least 900 + 18 x GiB.",
    benchmarks=(),
    check=check,
    tags=("serving", "availability"),
    options=(Option("baseSeconds", {"type": "integer", "minimum": 0, "default": 900},
                    "Fixed part of the startup budget."),
             Option("secondsPerGiB", {"type": "integer", "minimum": 0, "default": 18},
                    "Extra startup seconds per GiB of weights.")),
)
