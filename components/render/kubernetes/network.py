"""NetworkPolicies: deny everything in the namespace, then allow exactly the paths the deployment uses.

Allowed: DNS for every pod; gateway -> runtime (or UI -> runtime without a gateway); UI -> gateway;
the ingress controller's namespace -> gateway (exposure ingress) or any namespace -> gateway (exposure
internal); the Prometheus that scrapes (the spec's pods in the monitoring namespace, or AKS's managed
agent) -> each metrics port; the pre-download Job -> the egress proxy's port, and the egress proxy -> 443
on public addresses (it lets through only the model source's host names, which a NetworkPolicy cannot name).
Nothing else, and no serving pod can open a connection to the internet.
"""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest, bounded_name, meta, selector
from slm_deploy.render.kubernetes.public_addresses import PUBLIC_INTERNET_BLOCKS
from slm_deploy.render.monitoring.kubernetes import scraper_peer
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.consistency import cluster_target, ingress_namespace
from slm_deploy.spec.loader import Deployment

NAMESPACE_NAME = "kubernetes.io/metadata.name"
HUB_PORT = 443


def _policy(deployment: Deployment, name: str, pods: dict[str, str], types: list[str], **rules: Any) -> Manifest:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": pods} if pods else {}, "policyTypes": types}
    spec |= rules
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta(deployment, name), "spec": spec}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _listening_port(service: ServicePlan) -> int:
    """The port a service that others connect to listens on (an empty port list would allow every port)."""
    if service.port is None:
        raise ValueError(f"service {service.name} is a connection target but listens on no port")
    return service.port


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: name}}}


def _pods(service: ServicePlan) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": selector(service)}}


def default_deny(deployment: Deployment) -> Manifest:
    """Selects every pod of the namespace for both directions and allows nothing."""
    return _policy(deployment, bounded_name(deployment.spec.name, "deny-all"), {}, ["Ingress", "Egress"])


def allow_dns(deployment: Deployment) -> Manifest:
    """Every pod may resolve names through the cluster DNS in kube-system, and nothing else through this rule."""
    return _policy(deployment, bounded_name(deployment.spec.name, "dns"), {}, ["Egress"], egress=[{
        "to": [{**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}])


def _metrics_port(service: ServicePlan) -> int | None:
    if not service.metrics_path:
        return None
    return service.metrics_port or service.port


def _callers(plan: RuntimePlan, target: ServicePlan) -> list[ServicePlan]:
    """Pods of this namespace that call `target`: the gateway calls the runtime, the UI calls its upstream."""
    gateways, uis = plan.by_role("gateway"), plan.by_role("ui")
    if target.role == "runtime":
        return list(gateways) if gateways else list(uis)
    if target.role == "gateway":
        return list(uis)
    return []


def ingress_policy(deployment: Deployment, plan: RuntimePlan, target: ServicePlan) -> Manifest | None:
    """Who may open connections to one long-running service, and on which port."""
    spec = deployment.spec
    k8s = cluster_target(spec)
    rules = []
    callers = [_pods(c) for c in _callers(plan, target)]
    if target.role == "gateway" and spec.exposure.mode == "ingress":
        callers.append(_namespace(ingress_namespace(spec)))
    if target.role == "gateway" and spec.exposure.mode == "internal":
        callers.append({"namespaceSelector": {}})
    if callers:
        rules.append({"from": callers, "ports": _tcp(_listening_port(target))})
    metrics = _metrics_port(target)
    if metrics and spec.monitoring.enabled:
        rules.append({"from": [scraper_peer(deployment, k8s.monitoring_namespace)], "ports": _tcp(metrics)})
    if not rules:
        return None
    return _policy(deployment, bounded_name(target.name, "ingress"), selector(target), ["Ingress"], ingress=rules)


def egress_policy(deployment: Deployment, plan: RuntimePlan, source: ServicePlan) -> Manifest | None:
    """Where one service's pods may connect, besides DNS."""
    rules = []
    for target in plan.services:
        if target.port and source in _callers(plan, target):
            rules.append({"to": [_pods(target)], "ports": _tcp(target.port)})
    if not rules:
        return None
    return _policy(deployment, bounded_name(source.name, "egress"), selector(source), ["Egress"], egress=rules)


def proxy_policies(deployment: Deployment, proxy: ServicePlan, preps: list[ServicePlan]) -> list[Manifest]:
    """The pre-download Jobs' pods reach only the egress proxy; the proxy admits only them and reaches only HTTPS."""
    port = _listening_port(proxy)
    found = [_policy(deployment, bounded_name(prep.name, "egress"), selector(prep), ["Egress"],
                     egress=[{"to": [_pods(proxy)], "ports": _tcp(port)}]) for prep in preps]
    if preps:
        found.append(_policy(deployment, bounded_name(proxy.name, "ingress"), selector(proxy), ["Ingress"],
                             ingress=[{"from": [_pods(prep) for prep in preps], "ports": _tcp(port)}]))
    found.append(_policy(deployment, bounded_name(proxy.name, "egress"), selector(proxy), ["Egress"], egress=[{
        "to": [{"ipBlock": {"cidr": cidr, "except": list(private)}} for cidr, private in PUBLIC_INTERNET_BLOCKS],
        "ports": _tcp(HUB_PORT)}]))
    return found


def connection_policies(deployment: Deployment, source: ServicePlan, target: ServicePlan) -> list[Manifest]:
    """An egress allow from `source` and an ingress allow into `target`, on the target's port only."""
    return [
        _policy(deployment, bounded_name(source.name, "egress"), selector(source), ["Egress"],
                egress=[{"to": [_pods(target)], "ports": _tcp(_listening_port(target))}]),
        _policy(deployment, bounded_name(target.name, f"from-{source.role}"), selector(target), ["Ingress"],
                ingress=[{"from": [_pods(source)], "ports": _tcp(_listening_port(target))}]),
    ]


def network_policies(deployment: Deployment, plan: RuntimePlan, long_running: list[ServicePlan],
                     preps: list[ServicePlan]) -> list[Manifest]:
    """Default deny, DNS, then per-service ingress and egress allows, in a stable order."""
    found = [default_deny(deployment), allow_dns(deployment)]
    for service in long_running:
        found += [p for p in (ingress_policy(deployment, plan, service), egress_policy(deployment, plan, service)) if p]
    for proxy in plan.by_role("egress-proxy"):
        found += proxy_policies(deployment, proxy, preps)
    return found
