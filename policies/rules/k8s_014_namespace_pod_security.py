"""K14: namespaces enforce the restricted Pod Security Standard."""

from __future__ import annotations

from slm_deploy.policies.access import get, labels_of
from slm_deploy.policies.model import CIS_K8S, NSA, TRIVY, Rule, Severity, bench
from slm_deploy.spec.cluster_namespaces import is_system

PREFIX = "pod-security.kubernetes.io/"


def check(manifest, ctx):
    """Yield violations for reserved namespaces and missing or weak Pod Security labels."""
    name = get(manifest, "metadata", "name")
    if is_system(name):
        yield "metadata.name is a reserved namespace; deploy into a dedicated one"
    labels = labels_of(manifest)
    for mode in ("enforce", "warn", "audit"):
        if labels.get(PREFIX + mode) != "restricted":
            yield f"metadata.labels[{PREFIX}{mode}] must be restricted"
    if not labels.get(PREFIX + "enforce-version"):
        yield f"metadata.labels[{PREFIX}enforce-version] must pin a version"


RULE = Rule(
    id="slm-k8s-014",
    name="Each namespace enforces, warns and audits the restricted Pod Security Standard.",
    severity=Severity.HIGH,
    controls=("K14",),
    kinds=frozenset({"Namespace"}),
    rationale="Pod Security Admission is the cluster's own backstop: with enforce=restricted the API server "
              "rejects any pod that weakens the controls this pack checks.",
    remediation="Label the namespace pod-security.kubernetes.io/enforce, warn and audit = restricted and "
                "enforce-version = the cluster's minor version (or latest).",
    benchmarks=(bench(CIS_K8S, "5.2.1", "5.7.1", "5.7.4"), bench(NSA, "1.12"), bench(TRIVY, "KSV-0110")),
    check=check,
    tags=("kubernetes", "admission"),
)
