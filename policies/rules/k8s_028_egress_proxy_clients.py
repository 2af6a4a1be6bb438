"""K28: only the model-download pods reach the egress proxy, and the proxy resolves names through the cluster DNS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import NSA, Rule, Severity, bench

COMPONENT = "app.kubernetes.io/component"
EGRESS_PROXY = "egress-proxy"
MODEL_PREP = "model-prep"


def _from_downloads(peer) -> bool:
    """Whether an ingress peer is the download pods of the policy's own namespace and nothing more."""
    if not isinstance(peer, Mapping) or set(peer.keys()) != {"podSelector"}:
        return False
    selector = mapping(peer.get("podSelector"))
    return mapping(selector.get("matchLabels")).get(COMPONENT) == MODEL_PREP


def _policy(policy) -> Iterator[str]:
    """Violations of an ingress policy over the proxy's pods: every rule names the download pods alone, on ports."""
    if mapping(get(policy, "spec", "podSelector", "matchLabels")).get(COMPONENT) != EGRESS_PROXY:
        return
    name = get(policy, "metadata", "name")
    for index, rule in enumerate(items(get(policy, "spec", "ingress"))):
        where = f"NetworkPolicy {name}: ingress[{index}]"
        peers = items(get(rule, "from"))
        if not peers or not all(_from_downloads(peer) for peer in peers):
            yield f"{where} lets pods other than the model downloads (podSelector with " \
                  f"{COMPONENT}: {MODEL_PREP}) use the egress proxy"
        if not items(get(rule, "ports")):
            yield f"{where} opens every port of the egress proxy's pods"


def _workload(workload) -> Iterator[str]:
    """Violations of the proxy's pod template: its names resolve through the cluster DNS, not a chosen server."""
    template = get(workload, "spec", "template")
    if mapping(get(template, "metadata", "labels")).get(COMPONENT) != EGRESS_PROXY:
        return
    name = get(workload, "metadata", "name")
    pod = mapping(get(template, "spec"))
    if pod.get("dnsPolicy") == "None" or items(get(pod, "dnsConfig", "nameservers")):
        yield f"{workload.get('kind')} {name}: the egress proxy resolves names through its own DNS servers " \
              "(dnsPolicy None or dnsConfig.nameservers), which can send allowed names anywhere"
    if items(get(pod, "dnsConfig", "searches")):
        yield f"{workload.get('kind')} {name}: the egress proxy has dnsConfig.searches, which can turn an allowed " \
              "name into another host"


def check(obj, ctx):
    """Yield a violation per proxy ingress rule open to other pods and per proxy pod template with its own DNS."""
    if obj.get("kind") == "NetworkPolicy":
        yield from _policy(obj)
    else:
        yield from _workload(obj)


RULE = Rule(
    id="slm-k8s-028",
    name="Only the model-download pods reach the egress proxy, and the proxy resolves names through the cluster DNS.",
    severity=Severity.MEDIUM,
    controls=("K28",),
    kinds=frozenset({"NetworkPolicy", "Deployment"}),
    rationale="The egress proxy is the one way to the model hub, which accepts uploads with any account's token: "
              "a pod that may reach the proxy (an ingress rule from every pod, or without the model-prep "
              "component) can send data out through it. Squid connects to whatever the allowed names resolve to, "
              "so a proxy pod given its own name servers or search domains reaches hosts the allowlist never "
              "named. slm-k8s-027 keeps the proxy's own egress to public addresses on TCP 443.",
    remediation="Keep the rendered proxy ingress (from a podSelector with `app.kubernetes.io/component: "
                "model-prep`, on the proxy's port) and leave the proxy Deployment's dnsPolicy and dnsConfig unset.",
    benchmarks=(bench(NSA, "2.0"),),
    check=check,
    tags=("kubernetes", "network", "model-prep"),
)
