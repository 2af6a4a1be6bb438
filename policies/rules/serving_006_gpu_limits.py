"""Serving: GPUs requested are also limited."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, as_number, containers, get, items, mapping
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._compose import services


def _gpu_keys(resources: Mapping) -> set[str]:
    """Extended resource names that are GPUs (nvidia.com/gpu, amd.com/gpu, ...)."""
    return {str(k) for k in resources.keys() if str(k).endswith("/gpu") or "/mig-" in str(k)}


def check(manifest, ctx):
    """Yield violations for GPU requests without matching limits, or unbounded Compose GPU reservations."""
    if ctx.kind == "ComposeProject":
        for path, service in services(manifest):
            devices = items(get(service, "deploy", "resources", "reservations", "devices"))
            for index, device in enumerate(devices):
                if not isinstance(device, Mapping) or "gpu" not in {str(c) for c in items(device.get("capabilities"))}:
                    continue
                if as_number(device.get("count")) is None and not items(device.get("device_ids")):
                    yield f"{path}.deploy.resources.reservations.devices[{index}] must give a GPU count or device_ids"
            if str(service.get("gpus") or "") == "all":
                yield f"{path}.gpus must give a number, not all"
        return
    for path, container in containers(manifest, ctx.kind):
        requests = mapping(get(container, "resources", "requests"))
        limits = mapping(get(container, "resources", "limits"))
        for key in sorted(_gpu_keys(requests)):
            if as_number(limits.get(key)) != as_number(requests.get(key)):
                yield f"{path}.resources.limits must set the same GPU count it requests"


RULE = Rule(
    id="slm-serving-006",
    name="Containers that request GPUs set matching GPU limits.",
    severity=Severity.MEDIUM,
    controls=("S-gpu-limits",),
    kinds=WORKLOAD_KINDS | {"ComposeProject"},
    rationale="Extended resources are scheduled by limits; a GPU request without a limit is rejected or, in "
              "Compose, `count: all` hands every GPU on the host to one container.",
    remediation="Set resources.limits[nvidia.com/gpu] equal to the request; in Compose give devices a count.",
    benchmarks=(),
    check=check,
    tags=("serving", "gpu"),
)
