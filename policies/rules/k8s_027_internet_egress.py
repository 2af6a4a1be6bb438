"""K27: only the egress proxy's pods reach the internet, on TCP 443, with private and metadata ranges excepted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, items, mapping
from slm_deploy.policies.model import NSA, Rule, Severity, bench

COMPONENT = "app.kubernetes.io/component"
EGRESS_PROXY = "egress-proxy"
HTTPS = 443
API_SERVER_PORTS = frozenset({443, 6443})
API_SERVER_READERS = frozenset({"prometheus", "kube-state-metrics"})
"""Monitoring pods that list pods through the Kubernetes API, whose address a manifest cannot know."""
NOTIFIER = "alertmanager"
"""Sends alerts to the receiver the spec names (Slack or a webhook), on that receiver's one port."""
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "::1/128", "fc00::/7", "fe80::/10"))
"""Ranges no public host answers in: private, shared (carrier NAT), loopback and link-local."""
MUST_EXCEPT = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"))
"""What the proxy must not reach: the cluster's and the VNet's private ranges and the cloud metadata service."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value) -> Network | None:
    """A CIDR as a network, or None when it does not parse."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return None


def _inside(inner: Network, outer: Network) -> bool:
    """Whether every address of `inner` lies in `outer` (False across address families)."""
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _is_public(cidr: Network | None) -> bool:
    """Whether a range holds any public address (an unparsable one is judged by the worst it could be)."""
    return cidr is None or not any(_inside(cidr, private) for private in NOT_PUBLIC)


def _ip_blocks(rule) -> Iterator[Mapping]:
    """The ipBlock peers of one egress rule."""
    for peer in items(get(rule, "to")):
        block = get(peer, "ipBlock") if isinstance(peer, Mapping) else None
        if isinstance(block, Mapping):
            yield block


def _ports(rule) -> list[tuple[str, object, object]]:
    """(protocol, port, endPort) of each port entry; TCP when the protocol is left out, as Kubernetes reads it."""
    return [(str(get(p, "protocol") or "TCP"), _whole(get(p, "port")), get(p, "endPort"))
            for p in items(get(rule, "ports"))]


def _whole(port):
    """A port number as an int: Pulumi hands numbers to policies as floats (443.0)."""
    return int(port) if isinstance(port, float) and port.is_integer() else port


def _proxy_rule(where: str, rule) -> Iterator[str]:
    """Violations of the proxy's one permitted shape: TCP 443 only, private and metadata ranges excepted."""
    ports = _ports(rule)
    if not ports or any(entry != ("TCP", HTTPS, None) for entry in ports):
        yield f"{where} lets the egress proxy reach address ranges on ports other than TCP {HTTPS} only"
    for block in _ip_blocks(rule):
        cidr = _network(block.get("cidr"))
        if cidr is None:
            yield f"{where} has an ipBlock whose cidr is not a valid range"
            continue
        excepted = [n for n in (_network(e) for e in items(block.get("except"))) if n is not None]
        for private in MUST_EXCEPT:
            if cidr.overlaps(private) and not any(_inside(private, e) for e in excepted):
                yield f"{where} lets the egress proxy reach {private} (private or metadata addresses); except it"


def _monitoring_route(component, rule) -> bool:
    """Whether a rule is a monitoring pod's route to a host no manifest can address: the Kubernetes API (TCP 443
    or 6443 only) for the pods that read it, or Alertmanager's alert receiver (one TCP port)."""
    ports = _ports(rule)
    tcp = [port for proto, port, end in ports if proto == "TCP" and isinstance(port, int) and end is None]
    if not ports or len(tcp) != len(ports):
        return False
    if component in API_SERVER_READERS:
        return set(tcp) <= API_SERVER_PORTS
    return component == NOTIFIER and len(tcp) == 1


def check(policy, ctx):
    """Yield a violation per egress rule that opens public addresses to pods other than the egress proxy, and per
    proxy rule that reaches more than public HTTPS."""
    name = get(policy, "metadata", "name")
    component = mapping(get(policy, "spec", "podSelector", "matchLabels")).get(COMPONENT)
    for index, rule in enumerate(items(get(policy, "spec", "egress"))):
        where = f"NetworkPolicy {name}: egress[{index}]"
        blocks = list(_ip_blocks(rule))
        if not blocks:
            continue
        if component == EGRESS_PROXY:
            yield from _proxy_rule(where, rule)
        elif any(_is_public(_network(b.get("cidr"))) for b in blocks) and not _monitoring_route(component, rule):
            yield f"{where} lets pods other than the egress proxy reach public addresses"


RULE = Rule(
    id="slm-k8s-027",
    name="Only the egress proxy's pods reach public addresses, on TCP 443 alone, never private or metadata ranges.",
    severity=Severity.MEDIUM,
    controls=("K27",),
    kinds=frozenset({"NetworkPolicy"}),
    rationale="A NetworkPolicy cannot name hosts, so an ipBlock to public ranges opens the whole internet to the "
              "pods it selects. The allowlisting egress proxy is the one component that needs it, and only for "
              "HTTPS CONNECT to the model hub; every other pod (the model server, the gateway, the downloads) "
              "reaches the internet through nothing, or through the proxy. A selector that loses the component "
              "label selects every pod of the instance, and a rule without ports opens every port and protocol. "
              "The proxy's range excepts the private, shared and link-local ranges, so it cannot be steered to "
              "the cluster's services or the cloud metadata endpoint. Two monitoring routes lead to hosts no "
              "manifest can address: Prometheus and kube-state-metrics reach the API server on 443 or 6443, and "
              "Alertmanager reaches the spec's alert receiver on its one port.",
    remediation="Give the ipBlock egress to the egress proxy's pods alone (podSelector with "
                "`app.kubernetes.io/component: egress-proxy`), on TCP 443 only, with `except` covering 10.0.0.0/8, "
                "100.64.0.0/10, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, fc00::/7 and fe80::/10; route "
                "other pods' downloads through the proxy.",
    benchmarks=(bench(NSA, "2.0"),),
    check=check,
    tags=("kubernetes", "network"),
)
