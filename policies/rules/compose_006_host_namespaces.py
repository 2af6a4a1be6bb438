"""Compose: no host namespaces."""

from __future__ import annotations

from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, bench
from slm_deploy.policies.rules._compose import KINDS, services

FIELDS = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")


def check(project, ctx):
    """Yield a violation per namespace shared with the host."""
    for path, service in services(project):
        for field in FIELDS:
            if str(service.get(field) or "").lower() == "host":
                yield f"{path}.{field} must not be host"


RULE = Rule(
    id="slm-compose-006",
    name="No Compose service shares the host's network, PID, IPC, UTS, user or cgroup namespace.",
    severity=Severity.HIGH,
    controls=("C-host-namespaces",),
    kinds=KINDS,
    rationale="Host namespaces let a container see host processes and traffic; `ipc: host` in particular is "
              "what vLLM's docs suggest and what CIS forbids.",
    remediation="Remove the host modes; use `shm_size` for vLLM shared memory.",
    benchmarks=(bench(CIS_DOCKER, "5.9", "5.15", "5.16", "5.20", "5.30", "5.31"),),
    check=check,
    tags=("compose", "isolation"),
)
