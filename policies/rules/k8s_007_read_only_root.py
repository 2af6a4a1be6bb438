"""K7: read-only root filesystems."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, get
from slm_deploy.policies.model import NSA, TRIVY, Rule, Severity, bench


def check(manifest, ctx):
    """Yield a violation per container with a writable root filesystem."""
    for path, container in containers(manifest, ctx.kind):
        value = get(container, "securityContext", "readOnlyRootFilesystem")
        if value is True or (ctx.patch and value is None):
            continue
        yield f"{path}.securityContext.readOnlyRootFilesystem must be true"


RULE = Rule(
    id="slm-k8s-007",
    name="Every container has a read-only root filesystem.",
    severity=Severity.HIGH,
    controls=("K7",),
    kinds=WORKLOAD_KINDS,
    rationale="A writable root lets an intruder drop tools and persist changes to the image's binaries; "
              "model servers only need a few writable caches.",
    remediation="Set readOnlyRootFilesystem: true and mount emptyDir volumes at /tmp and the runtime caches "
                "(HF_HOME, OLLAMA_MODELS), and a memory-backed emptyDir at /dev/shm.",
    benchmarks=(bench(NSA, "1.1"), bench(TRIVY, "KSV-0014")),
    check=check,
    tags=("kubernetes", "immutability"),
)
