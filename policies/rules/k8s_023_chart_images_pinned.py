"""K12 (Helm side): the charts a deployment installs run every image by digest, as its own workloads do."""

from __future__ import annotations

from slm_deploy.image_reference import SHA256_DIGEST
from slm_deploy.policies.access import get
from slm_deploy.policies.model import TRIVY, Rule, Severity, bench

CHART_IMAGES: dict[str, tuple[str, ...]] = {
    "cert-manager": ("image", "webhook.image", "cainjector.image", "acmesolver.image"),
}
"""Chart -> the values that set each image it always runs (`<path>.digest` overrides the tag)."""
CHART_JOBS: dict[str, tuple[str, ...]] = {"cert-manager": ("startupapicheck",)}
"""Chart -> optional parts with an image of their own: off, or pinned like the rest."""


def _digest(values, path: str):
    return get(values, *path.split("."), "digest")


def check(manifest, ctx):
    """Yield a violation per image value of a known chart without a digest; an unknown chart cannot be judged."""
    chart = get(manifest, "chart")
    values = get(manifest, "values")
    if chart not in CHART_IMAGES:
        yield "chart is not one whose image values the pack knows: its images cannot be shown to run by digest"
        return
    for path in CHART_IMAGES[chart]:
        if not SHA256_DIGEST.match(str(_digest(values, path) or "")):
            yield f"values.{path}.digest must be sha256:<64 hex> (a tag can be moved)"
    for job in CHART_JOBS.get(chart, ()):
        if get(values, job, "enabled") is not False and not SHA256_DIGEST.match(str(_digest(values, f"{job}.image") or "")):
            yield f"values.{job} runs its image by tag: set values.{job}.enabled false or values.{job}.image.digest"


RULE = Rule(
    id="slm-k8s-023",
    name="Helm charts installed for the deployment run every image by digest.",
    severity=Severity.HIGH,
    controls=("K12",),
    kinds=frozenset({"Release"}),
    rationale="A chart's default images are tags; a moved tag changes what runs in the cluster (with its "
              "cluster-wide rights, for an operator) without any change to the stack.",
    remediation="Set each image's digest in the chart values (from the pins table) and turn off optional parts "
                "whose image has no pinned digest.",
    benchmarks=(bench(TRIVY, "KSV-0013"),),
    check=check,
    tags=("kubernetes", "supply-chain"),
)
