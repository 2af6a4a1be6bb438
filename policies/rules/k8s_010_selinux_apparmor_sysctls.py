"""K10: SELinux, procMount, sysctls, AppArmor and Windows host process stay at safe values."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import (WORKLOAD_KINDS, annotations_of, containers, dotted, get, is_true, items,
                                        pod_meta_path, pod_spec, pod_spec_path)
from slm_deploy.policies.model import PSS, TRIVY, Rule, Severity, bench

SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
                          "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
                          "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                          "net.ipv4.tcp_keepalive_probes"})
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _context(sc, path: str):
    """Violations for one securityContext."""
    selinux = get(sc, "seLinuxOptions")
    if get(selinux, "user") or get(selinux, "role"):
        yield f"{path}.securityContext.seLinuxOptions must not set a custom user or role"
    if get(selinux, "type") not in (None, "") and get(selinux, "type") not in SELINUX_TYPES:
        yield f"{path}.securityContext.seLinuxOptions.type must be a container_* type"
    if get(sc, "procMount") not in (None, "Default"):
        yield f"{path}.securityContext.procMount must be Default"
    if get(sc, "appArmorProfile", "type") not in (None, "RuntimeDefault", "Localhost"):
        yield f"{path}.securityContext.appArmorProfile.type must be RuntimeDefault or Localhost"
    if is_true(get(sc, "windowsOptions", "hostProcess")):
        yield f"{path}.securityContext.windowsOptions.hostProcess must not be true"


def check(manifest, ctx):
    """Yield violations for unsafe SELinux, procMount, sysctl, AppArmor and hostProcess settings."""
    spec = pod_spec(manifest, ctx.kind)
    if spec is None:
        return
    base = dotted(pod_spec_path(ctx.kind))
    sc = spec.get("securityContext")
    yield from _context(sc, base)
    for index, sysctl in enumerate(items(get(sc, "sysctls"))):
        if isinstance(sysctl, Mapping) and sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"{base}.securityContext.sysctls[{index}] is not in the safe sysctl set"
    for path, container in containers(manifest, ctx.kind):
        yield from _context(container.get("securityContext"), path)
    annotations = annotations_of({"metadata": get(manifest, *pod_meta_path(ctx.kind))})
    for key, value in annotations.items():
        if str(key).startswith(APPARMOR_PREFIX) and str(value) not in ("runtime/default",) \
                and not str(value).startswith("localhost/"):
            yield f"{dotted(pod_meta_path(ctx.kind))}.annotations sets an AppArmor profile other than " \
                  "runtime/default or localhost/*"


RULE = Rule(
    id="slm-k8s-010",
    name="SELinux, procMount, sysctls, AppArmor and Windows host-process settings stay within the restricted profile.",
    severity=Severity.HIGH,
    controls=("K10",),
    kinds=WORKLOAD_KINDS,
    rationale="Custom SELinux users, unmasked /proc, node-wide sysctls, unconfined AppArmor and Windows host "
              "processes each switch off a layer of container isolation.",
    remediation="Leave seLinuxOptions user/role unset, procMount unset or Default, only namespaced safe sysctls, "
                "AppArmor RuntimeDefault (or unset) and windowsOptions.hostProcess unset.",
    benchmarks=(bench(PSS, "baseline:seLinuxOptions", "baseline:procMount", "baseline:sysctls",
                      "baseline:appArmorProfile", "baseline:windowsHostProcess"),
                bench(TRIVY, "KSV-0025", "KSV-0027", "KSV-0026", "KSV-0002", "KSV-0103")),
    check=check,
    tags=("kubernetes", "isolation"),
)
