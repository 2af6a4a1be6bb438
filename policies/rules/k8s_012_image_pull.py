"""K12: images are always pulled, from trusted registries."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, containers
from slm_deploy.policies.model import CIS_K8S, TRIVY, Option, Rule, Severity, bench
from slm_deploy.policies.rules.docker_002_pinned_base_images import split_reference


def check(manifest, ctx):
    """Yield violations for pull policies other than Always and untrusted registries."""
    trusted = ctx.get_list("trustedRegistries")
    for path, container in containers(manifest, ctx.kind):
        policy = container.get("imagePullPolicy")
        if policy != "Always" and not (ctx.patch and policy is None):
            yield f"{path}.imagePullPolicy must be Always"
        image = container.get("image")
        if trusted and isinstance(image, str) and split_reference(image)[0] not in trusted:
            yield f"{path}.image comes from a registry that is not in trustedRegistries"


RULE = Rule(
    id="slm-k8s-012",
    name="Containers always pull their image, and only from trusted registries.",
    severity=Severity.MEDIUM,
    controls=("K12",),
    kinds=WORKLOAD_KINDS,
    rationale="Always re-checks the registry's authorisation for every pod, so a node's cached image cannot "
              "be reused by a pod that may not pull it; an allow-list keeps images from unknown sources out.",
    remediation="Set imagePullPolicy: Always (with the image pinned by digest it costs one manifest request) "
                "and mirror images into a registry listed in trustedRegistries.",
    benchmarks=(bench(CIS_K8S, "5.5.1"), bench(TRIVY, "KSV-0125")),
    check=check,
    tags=("kubernetes", "supply-chain"),
    options=(Option("trustedRegistries", {"type": "array", "items": {"type": "string"}, "default": []},
                    "Registries images may come from; empty accepts any registry."),),
)
