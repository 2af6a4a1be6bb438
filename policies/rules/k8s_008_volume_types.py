"""K8: only restricted volume types; never hostPath."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, dotted, items, pod_spec, pod_spec_path
from slm_deploy.policies.model import CIS_K8S, PSS, TRIVY, Rule, Severity, bench

ALLOWED = frozenset({"configMap", "downwardAPI", "emptyDir", "projected", "secret", "csi",
                     "persistentVolumeClaim", "ephemeral", "image"})


def check(manifest, ctx):
    """Yield a violation per volume of a type the restricted profile forbids."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    base = dotted(pod_spec_path(ctx.kind))
    for index, volume in enumerate(items(spec.get("volumes"))):
        if not isinstance(volume, Mapping):
            continue
        sources = [k for k in volume.keys() if k != "name"]
        for source in sources:
            if source == "hostPath":
                yield f"{base}.volumes[{index}] mounts a hostPath; host paths expose the node"
            elif source not in ALLOWED:
                yield f"{base}.volumes[{index}] uses a volume type outside the restricted profile"


RULE = Rule(
    id="slm-k8s-008",
    name="Pods mount only restricted volume types and never host paths.",
    severity=Severity.HIGH,
    controls=("K8",),
    kinds=WORKLOAD_KINDS,
    rationale="hostPath mounts (docker.sock, /dev, /var/lib) hand the node to the pod; other in-tree volume "
              "types bypass storage access controls.",
    remediation="Keep model weights on a PersistentVolumeClaim, CSI or image volume, caches on emptyDir, "
                "and credentials on secret or CSI volumes.",
    benchmarks=(bench(PSS, "baseline:hostPathVolumes", "restricted:volumeTypes"), bench(CIS_K8S, "5.2.12"),
                bench(TRIVY, "KSV-0006", "KSV-0023", "KSV-0028", "KSV-0121")),
    check=check,
    tags=("kubernetes", "isolation"),
)
