"""K9: no hostPort, no host in probes or hooks, no hostAliases."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import WORKLOAD_KINDS, containers, dotted, get, items, pod_spec, pod_spec_path
from slm_deploy.policies.model import CIS_K8S, PSS, TRIVY, Rule, Severity, bench

HANDLERS = ("livenessProbe", "readinessProbe", "startupProbe")


def _handler_hosts(handler) -> bool:
    """Whether a probe or lifecycle handler targets an explicit host."""
    return any(get(handler, action, "host") not in (None, "") for action in ("httpGet", "tcpSocket"))


def check(manifest, ctx):
    """Yield violations for host ports, host-targeted probes and hooks, and hostAliases."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    if items(spec.get("hostAliases")):
        yield f"{dotted(pod_spec_path(ctx.kind))}.hostAliases must not be set"
    for path, container in containers(manifest, ctx.kind):
        for index, port in enumerate(items(container.get("ports"))):
            if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
                yield f"{path}.ports[{index}].hostPort must not be set"
        for name in HANDLERS:
            if _handler_hosts(container.get(name)):
                yield f"{path}.{name} must not set a host"
        for hook in ("postStart", "preStop"):
            if _handler_hosts(get(container, "lifecycle", hook)):
                yield f"{path}.lifecycle.{hook} must not set a host"


RULE = Rule(
    id="slm-k8s-009",
    name="Containers bind no host ports, and probes, hooks and host aliases never point at other hosts.",
    severity=Severity.MEDIUM,
    controls=("K9",),
    kinds=WORKLOAD_KINDS,
    rationale="hostPort publishes the model server on every node address around NetworkPolicy, and a probe "
              "host lets the kubelet be used to reach arbitrary endpoints.",
    remediation="Reach pods through a ClusterIP Service behind the gateway; remove hostPort, probe/lifecycle "
                "`host` fields and hostAliases.",
    benchmarks=(bench(PSS, "baseline:hostPorts", "baseline:hostProbesAndHostLifecycle"),
                bench(CIS_K8S, "5.2.13"), bench(TRIVY, "KSV-0024", "KSV-0007")),
    check=check,
    tags=("kubernetes", "network"),
)
