"""The Compose monitoring services: Prometheus, Alertmanager, Grafana, Loki and Alloy, planned like any other.

Prometheus and Alertmanager are the upstream binaries copied onto the pinned Debian base with the shared
hardening (their images own their data folders as `nobody`, which UID 10001 cannot write); Grafana, Loki
and Alloy run their pinned images, whose data folders already accept UID 10001 (or need none).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slm_deploy.runtimes.common import WRITABLE_PATHS, cache_env, pinned, secret_file, service_labels
from slm_deploy.runtimes.plan import CACHE_ROOT, ExecCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.secret_uses import secrets_of

DATA_ROOT = "/var/lib/slm"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
LOKI_PORT = 3100
ALLOY_HTTP = "127.0.0.1:12345"
GELF_PORT = 12201
PROMETHEUS_RETENTION = "15d"
"""Long enough for the 3-day SLO window."""
MIB = 2**20


def monitoring_name(deployment: Deployment, part: str) -> str:
    """<deployment>-<part>: the Compose service (and host) name of a monitoring service."""
    return f"{deployment.spec.name}-{part}"


def _service(deployment: Deployment, part: str, **fields: Any) -> ServicePlan:
    body: dict[str, Any] = dict(role="monitoring", runtime=part, image=None, build=None, command=(), args=(), env=(),
                health=None, readiness=None, metrics_path=None, writable_paths=WRITABLE_PATHS, cpu=0.5,
                memory_bytes=512 * MIB, startup_budget_seconds=120,
                labels=service_labels(deployment, "monitoring", part))
    body.update(fields)
    return ServicePlan(name=monitoring_name(deployment, part), **body)


def _built(deployment: Deployment, part: str, binary: str, tool_check: tuple[str, ...], args: tuple[str, ...],
           port: int) -> ServicePlan:
    data = f"{DATA_ROOT}/{part}"
    return _service(
        deployment, part, port=port, command=(f"/usr/local/bin/{binary}",), args=args,
        build=ImageBuild(template="monitoring", base=pinned(deployment, "debian"),
                         sources=(pinned(deployment, part),), healthcheck=tool_check),
        env=tuple(sorted(cache_env().items())), writable_paths=WRITABLE_PATHS + (data,), memory_bytes=1024 * MIB)


def prometheus(deployment: Deployment) -> ServicePlan:
    """Prometheus with the rendered configuration and rules, its TSDB on a volume."""
    return _built(deployment, "prometheus", "prometheus",
                  ("/usr/local/bin/promtool", "query", "instant", f"http://127.0.0.1:{PROMETHEUS_PORT}", "vector(1)"),
                  ("--config.file=/etc/prometheus/prometheus.yml", f"--storage.tsdb.path={DATA_ROOT}/prometheus",
                   f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
                   f"--web.listen-address=:{PROMETHEUS_PORT}"), PROMETHEUS_PORT)


def alertmanager(deployment: Deployment) -> ServicePlan:
    """Alertmanager without clustering; receiver credentials are mounted secret files."""
    service = _built(deployment, "alertmanager", "alertmanager",
                     ("/usr/local/bin/amtool", f"--alertmanager.url=http://127.0.0.1:{ALERTMANAGER_PORT}",
                      "config", "show"),
                     ("--config.file=/etc/alertmanager/alertmanager.yml", f"--storage.path={DATA_ROOT}/alertmanager",
                      f"--web.listen-address=:{ALERTMANAGER_PORT}", "--cluster.listen-address="), ALERTMANAGER_PORT)
    return replace(service, secret_files=tuple(secret_file(n) for n in secrets_of(deployment.spec, "alertmanager")))


def grafana(deployment: Deployment) -> ServicePlan:
    """Grafana with provisioned data sources and dashboards; grafana.ini reads the admin password from its
    secret file and turns anonymous access and sign-up off."""
    return _service(deployment, "grafana", image=pinned(deployment, "grafana"), port=GRAFANA_PORT,
                    env=(("GF_PATHS_CONFIG", "/etc/grafana/grafana.ini"),),
                    secret_files=tuple(secret_file(n) for n in secrets_of(deployment.spec, "grafana")),
                    health=ExecCheck(("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{GRAFANA_PORT}/api/health")),
                    writable_paths=WRITABLE_PATHS + ("/var/lib/grafana",))


def loki(deployment: Deployment) -> ServicePlan:
    """Loki on its own filesystem storage (a volume), single tenant, reachable only inside the stack."""
    return _service(deployment, "loki", image=pinned(deployment, "loki"), port=LOKI_PORT,
                    args=("-config.file=/etc/loki/loki.yaml",),
                    health=ExecCheck(("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{LOKI_PORT}/ready")),
                    writable_paths=WRITABLE_PATHS + ("/loki",))


def alloy(deployment: Deployment) -> ServicePlan:
    """Grafana Alloy receiving the Docker daemon's GELF stream and writing it to Loki; no Docker socket."""
    probe = (f"exec 3<>/dev/tcp/{ALLOY_HTTP.replace(':', '/')} && printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 "
             "&& head -n 1 <&3 | grep -q ' 200 '")
    return _service(deployment, "alloy", image=pinned(deployment, "alloy"), port=None,
                    command=("/bin/alloy",),
                    args=("run", f"--server.http.listen-addr={ALLOY_HTTP}", f"--storage.path={CACHE_ROOT}/alloy",
                          "--disable-reporting", "/etc/alloy/config.alloy"),
                    health=ExecCheck(("bash", "-c", probe)))


def with_monitoring(deployment: Deployment, plan: RuntimePlan) -> RuntimePlan:
    """Add the monitoring services when Compose is a target and monitoring is on (they run under a profile)."""
    spec = deployment.spec
    if not spec.monitoring.enabled or spec.targets.compose is None or not plan.by_role("runtime"):
        return plan
    added = [prometheus(deployment), alertmanager(deployment)]
    if spec.monitoring.grafana.enabled:
        added.append(grafana(deployment))
    if spec.monitoring.logs:
        added += [loki(deployment), alloy(deployment)]
    return RuntimePlan(services=(*plan.services, *added), hosts=plan.hosts)
