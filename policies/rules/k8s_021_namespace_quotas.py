"""K11 (namespace side): every namespace with workloads has a LimitRange and a ResourceQuota."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, get
from slm_deploy.policies.model import NSA, Option, Rule, Severity, bench


def check(resources, ctx):
    """Yield a violation per workload namespace missing a LimitRange or ResourceQuota (one its owner bounds
    outside what is checked, a shared namespace, must hold none of its own: they would bind its neighbours)."""
    shared = set(ctx.get_list("sharedNamespaces"))
    namespaces = sorted({str(get(r, "metadata", "namespace")) for r in resources
                         if get(r, "kind") in WORKLOAD_KINDS})
    for kind in ("LimitRange", "ResourceQuota"):
        present = {str(get(r, "metadata", "namespace")) for r in resources if get(r, "kind") == kind}
        for namespace in namespaces:
            if namespace in shared and namespace in present:
                yield f"namespace {namespace} is shared but this deployment adds a {kind} to it"
            elif namespace not in shared and namespace not in present:
                yield f"namespace {namespace} has workloads but no {kind}"


RULE = Rule(
    id="slm-k8s-021",
    name="Every namespace that runs workloads has a LimitRange and a ResourceQuota.",
    severity=Severity.MEDIUM,
    controls=("K11",),
    kinds=frozenset({"Bundle"}),
    scope="bundle",
    rationale="Namespace defaults and quotas cap what a single runaway or malicious pod can consume, even "
              "if one container forgets its limits.",
    remediation="Render a LimitRange with default requests/limits and a ResourceQuota sized for the "
                "deployment (GPU count included) in the deployment's namespace; in a namespace several "
                "deployments share, let its owner create one of each sized for all of them (SharedNamespace).",
    benchmarks=(bench(NSA, "4.0", "4.1"),),
    check=check,
    options=(Option("sharedNamespaces", {"type": "array", "items": {"type": "string"}, "default": []},
                    "Namespaces whose owner creates the one ResourceQuota and LimitRange outside what is checked "
                    "(targets.kubernetes.shared_namespace records its namespace here in a bundle)."),),
    tags=("kubernetes", "availability"),
)
