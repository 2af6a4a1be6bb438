"""Serving: on Kubernetes, a server of a prepared model checks the model's record before it starts."""

from __future__ import annotations

import re
from collections.abc import Mapping

from slm_deploy.policies.access import containers, get, items, labels_of, pod_meta_path
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._serving import COMPONENT, RUNTIME
from slm_deploy.spec.model_records import RECORD_CHECKS

INSTANCE = "app.kubernetes.io/instance"
SERVING_WORKLOADS = ("Deployment", "StatefulSet")
RECORDS = ("PROVENANCE", "SHA256SUMS")
"""What model preparation writes beside the model, and the check before serving reads."""
REFUSAL = re.compile(r"\bexit\b")


def _script(container: Mapping) -> str:
    """Every word a container runs, joined, so a `sh -c` script is searched as one text."""
    return "\n".join(str(w) for key in ("command", "args") for w in items(container.get(key)))


def records_preparation(script: str) -> bool:
    """Whether a script writes or checks a prepared model's record."""
    return all(record in script for record in RECORDS)


def missing_checks(script: str) -> list[str]:
    """The checks of the prepared model a script does not run on a line that stops it when the check fails."""
    refusing = [line for line in script.splitlines() if REFUSAL.search(line) and not line.lstrip().startswith("#")]
    return [what for what, text in RECORD_CHECKS.items() if not any(text in line for line in refusing)]


def _owner(manifest) -> tuple[str, str]:
    """The namespace and the deployment (instance label, else runtime label) an object belongs to."""
    labels = labels_of(manifest)
    return str(get(manifest, "metadata", "namespace")), str(labels.get(INSTANCE) or labels.get(RUNTIME))


def _pod_labels(manifest, kind: str) -> Mapping:
    labels = get(manifest, *pod_meta_path(kind), "labels")
    return labels if isinstance(labels, Mapping) else {}


def check(resources, ctx):
    """Yield a violation per runtime workload of a prepared model without an init container that checks it."""
    prepared = {_owner(r) for r in resources if isinstance(r, Mapping) and get(r, "kind") == "Job"
                and labels_of(r).get(COMPONENT) == "model-prep"
                and any(records_preparation(_script(c)) for _, c in containers(r, "Job"))}
    for resource in resources:
        kind = get(resource, "kind") if isinstance(resource, Mapping) else None
        if kind not in SERVING_WORKLOADS or _owner(resource) not in prepared:
            continue
        if "runtime" not in (labels_of(resource).get(COMPONENT), _pod_labels(resource, kind).get(COMPONENT)):
            continue
        checks = [missing_checks(_script(c)) for path, c in containers(resource, kind)
                  if ".initContainers[" in path and records_preparation(_script(c))]
        missing = min(checks, key=len) if checks else list(RECORD_CHECKS)
        if missing:
            yield (f"{kind} {get(resource, 'metadata', 'namespace')}/{get(resource, 'metadata', 'name')} serves a "
                   "prepared model without an init container that checks its PROVENANCE and SHA256SUMS before the "
                   f"server starts: none {'; none '.join(missing)}")


RULE = Rule(
    id="slm-serving-015",
    name="A server of a prepared model checks the model's provenance and sha256 record before it starts.",
    severity=Severity.HIGH,
    controls=("S-prepared-model",),
    kinds=frozenset({"Bundle"}),
    scope="bundle",
    rationale="The model volume outlives the preparation Job: a model made from another revision or with other "
              "options, or a file changed since, is otherwise served as if it were the one the spec names. The "
              "wait-for-model init container is the only check between the volume and the server.",
    remediation="Keep the rendered wait-for-model init container of the runtime workload (it compares PROVENANCE, "
                "refuses malformed SHA256SUMS lines, unlisted files, links and control characters in names, and runs "
                "sha256sum --check --strict); re-render instead of removing it.",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain", "model-preparation"),
)
