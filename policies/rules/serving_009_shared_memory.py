"""Serving: shared memory from a memory-backed volume, never the host IPC namespace."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, get, items, pod_spec
from slm_deploy.policies.model import CIS_DOCKER, TRIVY, Option, Rule, Severity, bench
from slm_deploy.policies.rules._serving import launches, starts_server


def _memory_volumes(spec) -> set[str]:
    """Names of emptyDir volumes backed by memory."""
    return {str(v.get("name")) for v in items(get(spec, "volumes"))
            if isinstance(v, Mapping) and get(v, "emptyDir", "medium") == "Memory"}


def check(manifest, ctx):
    """Yield violations for runtimes that need shared memory but use host IPC or lack /dev/shm."""
    needing = set(ctx.get_list("runtimes"))
    for launch in launches(manifest, ctx.kind):
        if launch.runtime not in needing or not starts_server(launch):
            continue
        if ctx.kind == "ComposeProject":
            if str(launch.source.get("ipc") or "") == "host":
                yield f"{launch.path}.ipc is host; use shm_size"
            if launch.source.get("shm_size") in (None, "", 0):
                yield f"{launch.path}.shm_size must be set"
            continue
        spec = pod_spec(manifest, ctx.kind)
        if ".containers[" not in launch.path or spec is None:
            continue
        if spec.get("hostIPC") is True:
            yield f"{launch.path} runs in a pod with hostIPC; use a memory-backed emptyDir at /dev/shm"
        memory = _memory_volumes(spec)
        mounts = [m for m in items(launch.source.get("volumeMounts")) if isinstance(m, Mapping)]
        if not any(m.get("mountPath") == "/dev/shm" and str(m.get("name")) in memory for m in mounts) \
                and not ctx.patch:
            yield f"{launch.path} must mount an emptyDir with medium Memory at /dev/shm"


RULE = Rule(
    id="slm-serving-009",
    name="Runtimes that share memory between workers get it from a memory-backed volume, never host IPC.",
    severity=Severity.HIGH,
    controls=("S-shared-memory",),
    kinds=WORKLOAD_KINDS | {"ComposeProject"},
    rationale="vLLM's docs suggest --ipc=host for PyTorch shared memory, which exposes every host process's "
              "System V shared memory; a sized /dev/shm gives the same performance in isolation.",
    remediation="Kubernetes: an emptyDir {medium: Memory, sizeLimit} mounted at /dev/shm; Compose: shm_size.",
    benchmarks=(bench(CIS_DOCKER, "5.17"), bench(TRIVY, "KSV-0008")),
    check=check,
    tags=("serving", "isolation"),
    options=(Option("runtimes", {"type": "array", "items": {"type": "string"}, "default": ["vllm"]},
                    "Runtimes that need shared memory."),),
)
