"""The bundled monitoring mode on Kubernetes: Prometheus, Alertmanager, Grafana and kube-state-metrics as our own
manifests in the monitoring namespace, pinned by digest and restricted like the workloads.

`render` writes exactly these objects (kubernetes/monitoring/) and `pulumi up` creates them from the same list, so
`check` judges every pod the monitoring stack runs. No operator and no CRDs: Prometheus finds the deployment's
pods through the API, with a token only it and kube-state-metrics are given, bound to a Role that reads the
deployment's namespace alone (rendered with the workloads, in that namespace: kubernetes_stack_access.py).
"""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import Manifest, bounded_name
from slm_deploy.render.kubernetes.namespace import limit_range, namespace, resource_quota
from slm_deploy.render.kubernetes.secret_sources import projected_secrets
from slm_deploy.render.kubernetes.security import container_security, pod_security
from slm_deploy.render.monitoring.bundle import is_monitored
from slm_deploy.render.monitoring.context import Monitored, monitored
from slm_deploy.render.monitoring.grafana import DASHBOARDS_PATH, dashboard_provider, datasources, grafana_ini
from slm_deploy.render.monitoring.kubernetes_config import (
    KUBE_STATE_METRICS_PORT, alertmanager_files, prometheus_files,
)
from slm_deploy.render.monitoring.kubernetes_stack_access import network_objects
from slm_deploy.render.monitoring.texts import dashboard_files
from slm_deploy.render.monitoring.stack_names import (
    PORTS, monitoring_meta, monitoring_namespace, part_labels, part_name, part_selector,
)
from slm_deploy.render.serialize import to_yaml
from slm_deploy.runtimes.common import pinned
from slm_deploy.runtimes.monitoring import ALERTMANAGER_PORT, GRAFANA_PORT, PROMETHEUS_PORT, PROMETHEUS_RETENTION
from slm_deploy.runtimes.plan import SECRETS_ROOT, RuntimePlan
from slm_deploy.spec.consistency import cluster_target, kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secret_uses import secrets_of

SIZES = {"prometheus": ("250m", "1", "1Gi", "2Gi", "50Gi"), "alertmanager": ("50m", "200m", "128Mi", "256Mi", "5Gi"),
         "grafana": ("100m", "500m", "256Mi", "512Mi", "5Gi"), "kube-state-metrics": ("50m", "200m", "64Mi", "256Mi", None)}
"""Per part: CPU request and limit, memory request and limit, and its data volume (None: keeps no data)."""
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_SECONDS = 3600


def _config_map(deployment: Deployment, name: str, data: dict[str, str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": monitoring_meta(deployment, name), "data": data}


def _http_probe(path: str, port: str) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6}


def _container(deployment: Deployment, part: str, image: str, args: list[str], port: int,
               probes: tuple[str, str], mounts: list[dict[str, Any]], env: list[dict[str, str]] | None = None
               ) -> dict[str, Any]:
    cpu, cpu_limit, memory, memory_limit, _ = SIZES[part]
    body: dict[str, Any] = {
        "name": part, "image": pinned(deployment, image).reference, "imagePullPolicy": "Always", "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}},
        "readinessProbe": _http_probe(probes[0], "http"), "livenessProbe": _http_probe(probes[1], "http"),
        "startupProbe": {**_http_probe(probes[0], "http"), "failureThreshold": 30},
        "securityContext": container_security(deployment),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }
    if env:
        body["env"] = env
    return body


def _token_volume() -> dict[str, Any]:
    """The API token, CA and namespace where client libraries look for them, mounted into this pod alone (the
    service account never automounts), expiring within the hour and refreshed by the kubelet."""
    return {"name": "api-token", "projected": {"defaultMode": 0o440, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_SECONDS}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}


def _workload(deployment: Deployment, part: str, container: dict[str, Any], volumes: list[dict[str, Any]],
              data_path: str | None = None) -> Manifest:
    """A StatefulSet with the part's data on its own claim, or a Deployment when it keeps none."""
    name = part_name(deployment, part)
    pod: dict[str, Any] = {"serviceAccountName": name, "automountServiceAccountToken": False,
                           "enableServiceLinks": False, "securityContext": pod_security(deployment),
                           "containers": [container],
                           "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *volumes]}
    template = {"metadata": {"labels": part_labels(deployment, part)}, "spec": pod}
    spec: dict[str, Any] = {"replicas": 1, "selector": {"matchLabels": part_selector(deployment, part)},
                            "template": template}
    size = SIZES[part][4]
    if size is None:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": monitoring_meta(deployment, name),
                "spec": spec}
    container["volumeMounts"].append({"name": "data", "mountPath": data_path})
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    storage_class = cluster_target(deployment.spec).storage_class
    if storage_class:
        claim["storageClassName"] = storage_class
    spec |= {"serviceName": name, "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}]}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": monitoring_meta(deployment, name), "spec": spec}


def _service(deployment: Deployment, part: str, port: int) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": monitoring_meta(deployment, part_name(deployment, part)),
            "spec": {"type": "ClusterIP", "selector": part_selector(deployment, part),
                     "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]}}


def _account(deployment: Deployment, part: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": monitoring_meta(deployment, part_name(deployment, part)), "automountServiceAccountToken": False}


def _config_volume(name: str, config_map: str, items: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"name": config_map}
    if items:
        source["items"] = [{"key": key, "path": path} for key, path in items]
    return {"name": name, "configMap": source}


def _prometheus(deployment: Deployment, m: Monitored) -> list[Manifest]:
    name = part_name(deployment, "prometheus")
    files = prometheus_files(m, namespace_of(deployment.spec), part_name(deployment, "alertmanager"),
                             part_name(deployment, "kube-state-metrics"))
    rules = [key for key in files if key != "prometheus.yml"]
    container = _container(deployment, "prometheus", "prometheus", [
        "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
        f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}", f"--web.listen-address=:{PROMETHEUS_PORT}"],
        PROMETHEUS_PORT, ("/-/ready", "/-/healthy"),
        [{"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
         {"name": "api-token", "mountPath": TOKEN_PATH, "readOnly": True}])
    volume = _config_volume("config", name, [("prometheus.yml", "prometheus.yml")] +
                            [(key, f"rules/{key}") for key in rules])
    return [_config_map(deployment, name, files),
            _workload(deployment, "prometheus", container, [volume, _token_volume()], "/prometheus")]


def _alertmanager(deployment: Deployment, m: Monitored) -> list[Manifest]:
    name = part_name(deployment, "alertmanager")
    mounts = [{"name": "config", "mountPath": "/etc/alertmanager", "readOnly": True}]
    volumes = [_config_volume("config", name)]
    secrets = secrets_of(deployment.spec, "alertmanager")
    if secrets:
        mounts.append({"name": "secrets", "mountPath": SECRETS_ROOT, "readOnly": True})
        volumes.append({"name": "secrets", "projected": projected_secrets(secrets)})
    container = _container(deployment, "alertmanager", "alertmanager", [
        "--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
        f"--web.listen-address=:{ALERTMANAGER_PORT}", "--cluster.listen-address="],
        ALERTMANAGER_PORT, ("/-/ready", "/-/healthy"), mounts)
    return [_config_map(deployment, name, alertmanager_files(deployment, m)),
            _workload(deployment, "alertmanager", container, volumes, "/alertmanager")]


def _grafana(deployment: Deployment, m: Monitored) -> list[Manifest]:
    name = part_name(deployment, "grafana")
    boards = bounded_name(name, "dashboards")
    password = deployment.spec.monitoring.grafana.admin_password_secret
    prometheus = f"{part_name(deployment, 'prometheus')}.{monitoring_namespace(deployment)}.svc"
    files = {"grafana.ini": grafana_ini(f"{SECRETS_ROOT}/{password}"),
             "datasources.yaml": to_yaml(datasources(prometheus, None)),
             "dashboards.yaml": to_yaml(dashboard_provider())}
    container = _container(deployment, "grafana", "grafana", [], GRAFANA_PORT, ("/api/health", "/api/health"), [
        {"name": "config", "mountPath": "/etc/grafana", "readOnly": True},
        {"name": "dashboards", "mountPath": DASHBOARDS_PATH, "readOnly": True},
        {"name": "secrets", "mountPath": SECRETS_ROOT, "readOnly": True}],
        env=[{"name": "GF_PATHS_CONFIG", "value": "/etc/grafana/grafana.ini"}])
    volumes = [_config_volume("config", name, [("grafana.ini", "grafana.ini"),
                                               ("datasources.yaml", "provisioning/datasources/slm-deploy.yaml"),
                                               ("dashboards.yaml", "provisioning/dashboards/slm-deploy.yaml")]),
               _config_volume("dashboards", boards),
               {"name": "secrets", "projected": projected_secrets([password])}]
    return [_config_map(deployment, name, files),
            _config_map(deployment, boards, dict(dashboard_files(m))),
            _workload(deployment, "grafana", container, volumes, "/var/lib/grafana")]


def _kube_state_metrics(deployment: Deployment) -> list[Manifest]:
    container = _container(deployment, "kube-state-metrics", "kube-state-metrics", [
        f"--port={KUBE_STATE_METRICS_PORT}", "--telemetry-port=8081", "--resources=pods,jobs",
        f"--namespaces={namespace_of(deployment.spec)}"], KUBE_STATE_METRICS_PORT, ("/healthz", "/healthz"),
        [{"name": "api-token", "mountPath": TOKEN_PATH, "readOnly": True}])
    return [_workload(deployment, "kube-state-metrics", container, [_token_volume()])]


def _bounds(deployment: Deployment, workloads: list[Manifest], services: int) -> list[Manifest]:
    """The monitoring namespace's own quota and LimitRange, sized for the stack's pods and claims."""
    pods = [(w["spec"]["template"]["spec"], 2 if w["kind"] == "Deployment" else 1) for w in workloads]
    claims = [t for w in workloads for t in w["spec"].get("volumeClaimTemplates", [])]
    bounds = [resource_quota(deployment, pods, claims, services), limit_range(deployment, pods)]
    for bound in bounds:
        bound["metadata"] = monitoring_meta(deployment, deployment.spec.name)
    return bounds


def bundled_stack_objects(deployment: Deployment, m: Monitored) -> list[Manifest]:
    """Every object of the bundled monitoring stack, in apply order (namespace first)."""
    monitoring = namespace(deployment)
    monitoring["metadata"]["name"] = monitoring_namespace(deployment)
    parts = ["prometheus", "alertmanager", "kube-state-metrics"]
    objects = _prometheus(deployment, m) + _alertmanager(deployment, m) + _kube_state_metrics(deployment)
    if deployment.spec.monitoring.grafana.enabled:
        parts.append("grafana")
        objects += _grafana(deployment, m)
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    services = [_service(deployment, part, PORTS[part]) for part in parts]
    return [monitoring, *_bounds(deployment, workloads, len(services)), *[_account(deployment, p) for p in parts],
            *objects, *services, *network_objects(deployment, m, parts)]


def render_monitoring_stack(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """The bundled stack's objects when the spec monitors a Kubernetes deployment in bundled mode, else none."""
    spec = deployment.spec
    if kubernetes_target(spec) is None or monitoring_mode(spec) != "bundled" or not is_monitored(deployment, plan):
        return []
    return bundled_stack_objects(deployment, monitored(deployment, plan))
