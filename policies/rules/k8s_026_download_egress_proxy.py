"""K26: model-download pods reach no address range directly; their only way out is the egress proxy's pods."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import NSA, Rule, Severity, bench

COMPONENT = "app.kubernetes.io/component"
COMPONENT_LABELS = (COMPONENT, "slm-deploy.io/component")
MODEL_PREP = "model-prep"
INSTANCE = "app.kubernetes.io/instance"
WORKLOADS = frozenset({"Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"})
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
"""Labels Kubernetes puts on a Job's pods, with the Job's name as value."""
UNKNOWABLE = frozenset({"batch.kubernetes.io/controller-uid", "controller-uid"})
"""Labels Kubernetes puts on a Job's pods whose value (the Job's uid) no manifest knows: any selector on them may
select the pods."""


def _template(workload) -> Mapping:
    """The pod template of a workload (a CronJob's through its jobTemplate; a Pod is its own)."""
    if workload.get("kind") == "Pod":
        return workload
    if workload.get("kind") == "CronJob":
        return mapping(get(workload, "spec", "jobTemplate", "spec", "template"))
    return mapping(get(workload, "spec", "template"))


def _download_pods(resources) -> list[tuple[object, dict[str, str]]]:
    """(namespace, labels) of every model-preparation pod template, with the labels Kubernetes adds to Job pods."""
    pods = []
    for workload in resources:
        if not isinstance(workload, Mapping) or workload.get("kind") not in WORKLOADS:
            continue
        labels = {str(k): str(v) for k, v in mapping(get(_template(workload), "metadata", "labels")).items()}
        if MODEL_PREP not in (labels.get(key) for key in COMPONENT_LABELS):
            continue
        if workload.get("kind") == "Job":
            labels |= {key: str(get(workload, "metadata", "name")) for key in JOB_NAME_LABELS}
        pods.append((get(workload, "metadata", "namespace"), labels))
    return pods


def _matches(expression, labels: Mapping[str, str]) -> bool:
    """Whether one matchExpressions entry holds for the labels (a Job's unknowable uid label counts as held)."""
    key, operator = str(get(expression, "key")), get(expression, "operator")
    values = {str(v) for v in items(get(expression, "values"))}
    if key in UNKNOWABLE:
        return True
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    return operator == "DoesNotExist" and key not in labels


def _selects(selector, labels: Mapping[str, str]) -> bool:
    """Whether a podSelector selects pods with these labels (a Job's unknowable uid label matches any value)."""
    wanted = mapping(get(selector, "matchLabels"))
    if any(str(k) not in UNKNOWABLE and labels.get(str(k)) != str(v) for k, v in wanted.items()):
        return False
    return all(_matches(e, labels) for e in items(get(selector, "matchExpressions")))


def _selects_downloads(policy, pods) -> bool:
    """Whether a NetworkPolicy applies to model-preparation pods: a download pod template of its namespace that its
    selector matches, or (for a bundle without the Job) a selector naming the model-prep component or nothing."""
    selector = get(policy, "spec", "podSelector")
    namespace = get(policy, "metadata", "namespace")
    if any(ns == namespace and _selects(selector, labels) for ns, labels in pods):
        return True
    instance = {k: str(v) for k, v in mapping(get(selector, "matchLabels")).items() if k == INSTANCE}
    return _selects(selector, {COMPONENT: MODEL_PREP} | instance)


def _violations(policy) -> Iterator[str]:
    """One per egress rule of a policy over download pods that reaches addresses, not pods."""
    name = get(policy, "metadata", "name")
    for index, rule in enumerate(items(get(policy, "spec", "egress"))):
        peers = items(get(rule, "to"))
        if not peers:
            yield f"NetworkPolicy {name}: egress[{index}] lets model-download pods reach every address"
        elif any(isinstance(peer, Mapping) and peer.get("ipBlock") is not None for peer in peers):
            yield f"NetworkPolicy {name}: egress[{index}] lets model-download pods reach an address range " \
                  "directly instead of through the egress proxy"


def check(resources, ctx):
    """Yield a violation per egress rule that opens addresses to the pods of a model download, judged by the pods
    each NetworkPolicy actually selects."""
    pods = _download_pods(resources)
    for policy in resources:
        if isinstance(policy, Mapping) and policy.get("kind") == "NetworkPolicy" and _selects_downloads(policy, pods):
            yield from _violations(policy)


RULE = Rule(
    id="slm-k8s-026",
    name="Model-download pods may egress only to pods (the egress proxy and DNS), never to address ranges.",
    severity=Severity.MEDIUM,
    controls=("K26",),
    kinds=frozenset({"Bundle"}),
    scope="bundle",
    rationale="A NetworkPolicy cannot name hosts, so an ipBlock egress for the download Job (which holds the hub "
              "token) opens every server in that range. The allowlisting egress proxy is the only component "
              "that reaches the internet, and the download pods may reach only it. A policy is judged by the pods "
              "it selects: its matchLabels and matchExpressions are evaluated against every download pod "
              "template, with the job-name labels Kubernetes adds to a Job's pods (a selector on the Job's "
              "controller-uid, which no manifest knows, counts as selecting them).",
    remediation="Allow the model-prep pods egress only to the egress proxy's pods on its port (plus DNS), point "
                "HTTPS_PROXY at the proxy's Service, and give the ipBlock egress to the proxy's pods alone.",
    benchmarks=(bench(NSA, "2.0"),),
    check=check,
    tags=("kubernetes", "network", "model-prep"),
)
