"""K26: model-download pods reach no address range directly; their only way out is the egress proxy's pods."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import NSA, Rule, Severity, bench

COMPONENT = "app.kubernetes.io/component"
MODEL_PREP = "model-prep"


def _selects_downloads(policy) -> bool:
    """Whether a NetworkPolicy applies to the model-preparation pods (by their component label, or all pods)."""
    selector = mapping(get(policy, "spec", "podSelector"))
    labels = mapping(selector.get("matchLabels"))
    if items(selector.get("matchExpressions")):
        return labels.get(COMPONENT) in (None, MODEL_PREP)
    return not labels or labels.get(COMPONENT) == MODEL_PREP


def check(policy, ctx):
    """Yield a violation per egress rule of a policy over download pods that reaches addresses, not pods."""
    if not _selects_downloads(policy):
        return
    name = get(policy, "metadata", "name")
    for index, rule in enumerate(items(get(policy, "spec", "egress"))):
        peers = items(get(rule, "to"))
        if not peers:
            yield f"NetworkPolicy {name}: egress[{index}] lets model-download pods reach every address"
        elif any(isinstance(peer, Mapping) and peer.get("ipBlock") is not None for peer in peers):
            yield f"NetworkPolicy {name}: egress[{index}] lets model-download pods reach an address range " \
                  "directly instead of through the egress proxy"


RULE = Rule(
    id="slm-k8s-026",
    name="Model-download pods may egress only to pods (the egress proxy and DNS), never to address ranges.",
    severity=Severity.MEDIUM,
    controls=("K26",),
    kinds=frozenset({"NetworkPolicy"}),
    rationale="A NetworkPolicy cannot name hosts, so an ipBlock egress for the download Job (which holds the hub "
              "token) opens every server in that range. The allowlisting egress proxy is the only component "
              "that reaches the internet, and the download pods may reach only it.",
    remediation="Allow the model-prep pods egress only to the egress proxy's pods on its port (plus DNS), point "
                "HTTPS_PROXY at the proxy's Service, and give the ipBlock egress to the proxy's pods alone.",
    benchmarks=(bench(NSA, "2.0"),),
    check=check,
    tags=("kubernetes", "network", "model-prep"),
)
