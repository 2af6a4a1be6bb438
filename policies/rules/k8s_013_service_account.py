"""K13: a dedicated service account without an automounted token."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, as_number, dotted, get, items, pod_spec, pod_spec_path
from slm_deploy.policies.model import CIS_K8S, NSA, TRIVY, Rule, Severity, bench


MAX_TOKEN_SECONDS = 3600
"""The longest a projected API token may live: the kubelet renews it well before then."""


def _long_tokens(spec, base):
    """Projected service account tokens that stay valid for more than an hour once stolen."""
    for index, volume in enumerate(items(spec.get("volumes"))):
        for source in items(get(volume, "projected", "sources")):
            seconds = as_number(get(source, "serviceAccountToken", "expirationSeconds"))
            if seconds is not None and seconds > MAX_TOKEN_SECONDS:
                yield f"{base}.volumes[{index}] projects an API token valid for more than {MAX_TOKEN_SECONDS} seconds"


def check(manifest, ctx):
    """Yield violations for the default service account, an automounted token or a long-lived projected one."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    base = dotted(pod_spec_path(ctx.kind))
    account = spec.get("serviceAccountName")
    if account in (None, "", "default") and not (ctx.patch and account is None):
        yield f"{base}.serviceAccountName must name a dedicated service account"
    automount = spec.get("automountServiceAccountToken")
    if automount is not False and not (ctx.patch and automount is None):
        yield f"{base}.automountServiceAccountToken must be false"
    yield from _long_tokens(spec, base)


RULE = Rule(
    id="slm-k8s-013",
    name="Pods use a dedicated service account and do not mount its API token.",
    severity=Severity.MEDIUM,
    controls=("K13",),
    kinds=WORKLOAD_KINDS,
    rationale="A model server never talks to the Kubernetes API; a mounted token is a free credential for "
              "anyone who gets code execution in it.",
    remediation="Create one ServiceAccount per workload with automountServiceAccountToken: false, and set "
                "serviceAccountName and automountServiceAccountToken: false on the pod.",
    benchmarks=(bench(CIS_K8S, "5.1.5", "5.1.6"), bench(NSA, "1.11"), bench(TRIVY, "KSV-0036", "KSV-0041")),
    check=check,
    tags=("kubernetes", "identity"),
)
