"""What the bundled monitoring stack may reach: read access to the deployment's pods and Jobs (a Role in the
deployment's namespace, nothing cluster-wide), and the monitoring namespace's NetworkPolicies (deny all, then each
part's own paths)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from slm_deploy.render.kubernetes.common import Manifest, bounded_name, meta
from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.stack_names import PORTS, monitoring_meta, monitoring_namespace, part_name, part_selector
from slm_deploy.spec.cluster_namespaces import KEDA_NAMESPACE
from slm_deploy.spec.consistency import namespace_of
from slm_deploy.spec.loader import Deployment

NAMESPACE_NAME = "kubernetes.io/metadata.name"
ANYWHERE = ("0.0.0.0/0", "::/0")
API_SERVER_PORTS = (443, 6443)
"""The API server's port behind the `kubernetes` Service (443) and on the control plane itself (6443): its address
is the cluster's, not known when rendering."""
READERS = ("prometheus", "kube-state-metrics")
"""The parts that read the API: Prometheus discovers pods, kube-state-metrics reports pods and Jobs."""


def access_objects(deployment: Deployment) -> list[Manifest]:
    """A Role reading pods and Jobs in the deployment's namespace, bound to the two parts that need it."""
    name = bounded_name(deployment.spec.name, "monitoring-reader")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(deployment, name),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(deployment, name),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [{"kind": "ServiceAccount", "name": part_name(deployment, part),
                             "namespace": monitoring_namespace(deployment)} for part in READERS]}
    return [role, binding]


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _pods(deployment: Deployment, part: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": part_selector(deployment, part)}}


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: name}}}


def _anywhere(*ports: int) -> dict[str, Any]:
    return {"to": [{"ipBlock": {"cidr": cidr}} for cidr in ANYWHERE], "ports": _tcp(*ports)}


def _policy(deployment: Deployment, part: str, direction: str, rules: list[dict[str, Any]]) -> Manifest:
    key = "ingress" if direction == "Ingress" else "egress"
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": monitoring_meta(deployment, bounded_name(part_name(deployment, part), key)),
            "spec": {"podSelector": {"matchLabels": part_selector(deployment, part)}, "policyTypes": [direction],
                     key: rules}}


def receiver_port(deployment: Deployment) -> int | None:
    """The port Alertmanager sends notifications to (Slack's HTTPS, or the webhook URL's), if it sends any."""
    receiver = deployment.spec.monitoring.receiver
    if receiver is None:
        return None
    if receiver.kind == "slack" or not receiver.url:
        return 443
    parts = urlsplit(str(receiver.url))
    return parts.port or (443 if parts.scheme == "https" else 80)


def keda_namespace(deployment: Deployment) -> str:
    """Where the KEDA operator that queries Prometheus runs: AKS's add-on in kube-system, else KEDA's chart's."""
    return "kube-system" if deployment.spec.targets.aks is not None else KEDA_NAMESPACE


def network_objects(deployment: Deployment, m: Monitored, parts: list[str]) -> list[Manifest]:
    """Deny everything in the monitoring namespace, allow DNS, then exactly each part's connections."""
    everyone: dict[str, Any] = {"podSelector": {}}
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": monitoring_meta(deployment, bounded_name(deployment.spec.name, "monitoring-deny-all")),
            "spec": {**everyone, "policyTypes": ["Ingress", "Egress"]}}
    dns = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": monitoring_meta(deployment, bounded_name(deployment.spec.name, "monitoring-dns")),
           "spec": {**everyone, "policyTypes": ["Egress"], "egress": [{
               "to": [{**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}}
    metrics = sorted({port for s in m.scraped if (port := s.metrics_port or s.port)})
    prometheus_in = [{"from": [_pods(deployment, "grafana")], "ports": _tcp(PORTS["prometheus"])}] \
        if "grafana" in parts else []
    if deployment.spec.serving.autoscaling.enabled:
        prometheus_in.append({"from": [_namespace(keda_namespace(deployment))], "ports": _tcp(PORTS["prometheus"])})
    policies = [deny, dns, _policy(deployment, "prometheus", "Egress", [
        {"to": [_namespace(namespace_of(deployment.spec))], "ports": _tcp(*metrics)},
        {"to": [_pods(deployment, "alertmanager")], "ports": _tcp(PORTS["alertmanager"])},
        {"to": [_pods(deployment, "kube-state-metrics")], "ports": _tcp(PORTS["kube-state-metrics"])},
        _anywhere(*API_SERVER_PORTS)])]
    if prometheus_in:
        policies.append(_policy(deployment, "prometheus", "Ingress", prometheus_in))
    policies.append(_policy(deployment, "alertmanager", "Ingress", [
        {"from": [_pods(deployment, "prometheus")], "ports": _tcp(PORTS["alertmanager"])}]))
    port = receiver_port(deployment)
    if port is not None:
        policies.append(_policy(deployment, "alertmanager", "Egress", [_anywhere(port)]))
    policies += [_policy(deployment, "kube-state-metrics", "Ingress", [
        {"from": [_pods(deployment, "prometheus")], "ports": _tcp(PORTS["kube-state-metrics"])}]),
        _policy(deployment, "kube-state-metrics", "Egress", [_anywhere(*API_SERVER_PORTS)])]
    if "grafana" in parts:
        policies.append(_policy(deployment, "grafana", "Egress", [
            {"to": [_pods(deployment, "prometheus")], "ports": _tcp(PORTS["prometheus"])}]))
    return policies
