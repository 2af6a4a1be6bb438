"""Long-running workloads: the runtime, the gateway, the UI and the egress proxy, each a Deployment with its Service
(and a PDB where it runs more than one pod)."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.kubernetes.common import WEIGHTS_ANNOTATION, Manifest, bounded_name, meta, selector
from slm_deploy.render.kubernetes.model_cache import (
    claim_name, config_map_name, wait_for_model,
)
from slm_deploy.render.kubernetes.pods import config_files, container, gpu_scheduling, pod_spec, volumes
from slm_deploy.render.kubernetes.probes import drain_command, grace_period_seconds, probes
from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment

UI_DATA_SIZE = "5Gi"
MODELS_WRITABLE_AT_RUNTIME = frozenset({"ollama"})
"""Runtimes whose server may write its model store on start; the others mount the cache read-only."""


def runtime_replicas(deployment: Deployment) -> tuple[int, int]:
    """(fewest, most) runtime replicas: from the autoscaler's range when it is on, else the fixed count."""
    serving = deployment.spec.serving
    scaling = serving.autoscaling
    if scaling.enabled:
        return (0 if scaling.scale_to_zero else scaling.min_replicas), scaling.max_replicas
    return serving.replicas, serving.replicas


def gateway_replicas(deployment: Deployment) -> int:
    """Two gateways once more than one runtime replica can exist, so one node drain never cuts clients off."""
    return 2 if runtime_replicas(deployment)[1] > 1 else 1


def ui_data_claim(ui: ServicePlan) -> str:
    """Open WebUI's own database and uploads."""
    return bounded_name(ui.name, "data")


def _spread(service: ServicePlan) -> list[dict[str, Any]]:
    return [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": selector(service)}}]


def _long_running(deployment: Deployment, plan: RuntimePlan, service: ServicePlan, *,
                  models_read_only: bool = False, data_path: str | None = None) -> dict[str, Any]:
    body = container(deployment, plan, service, models_read_only=models_read_only, data_path=data_path)
    if service.health:
        body.update(probes(service, service.health))
    if service.port:
        body["lifecycle"] = {"preStop": {"exec": {"command": drain_command(service)}}}
    ordered = {k: body[k] for k in body if k not in ("resources", "securityContext", "volumeMounts")}
    return {**ordered, **{k: body[k] for k in ("resources", "securityContext", "volumeMounts")}}


def _deployment(deployment: Deployment, service: ServicePlan, pod: dict[str, Any], *, replicas: int | None,
                strategy: dict[str, Any], annotations: dict[str, str] | None = None) -> Manifest:
    labels = dict(service.labels)
    template_meta: dict[str, Any] = {"labels": labels}
    if annotations:
        template_meta["annotations"] = dict(annotations)
    spec: dict[str, Any] = {}
    if replicas is not None:
        spec["replicas"] = replicas
    spec |= {"selector": {"matchLabels": selector(service)}, "strategy": strategy,
             "template": {"metadata": template_meta, "spec": pod}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(deployment, service.name, labels, annotations), "spec": spec}


SURGE = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def runtime_deployment(deployment: Deployment, plan: RuntimePlan, runtime: ServicePlan, service_account: str,
                       prep: ServicePlan | None) -> Manifest:
    """The model server: waits for the cache, mounts it offline, sized probes, drain, GPUs, spread over nodes."""
    low, high = runtime_replicas(deployment)
    server = _long_running(deployment, plan, runtime,
                           models_read_only=runtime.runtime not in MODELS_WRITABLE_AT_RUNTIME)
    fields: dict[str, Any] = {}
    if prep is not None:
        fields["initContainers"] = [wait_for_model(deployment, plan, runtime, prep)]
    fields["containers"] = [server]
    fields["volumes"] = volumes(deployment, runtime, claim=claim_name(deployment) if runtime.model_dir else None,
                                config_map=config_map_name(runtime) if config_files(runtime) else None)
    fields["terminationGracePeriodSeconds"] = grace_period_seconds()
    fields["topologySpreadConstraints"] = _spread(runtime)
    fields |= gpu_scheduling(deployment, runtime)
    annotations = {WEIGHTS_ANNOTATION: str(deployment.sizing.weights_bytes)}
    replicas = None if deployment.spec.serving.autoscaling.enabled else low
    return _deployment(deployment, runtime, pod_spec(deployment, service_account, **fields),
                       replicas=replicas, strategy=SURGE, annotations=annotations)


def _stateless_pod(deployment: Deployment, plan: RuntimePlan, service: ServicePlan, service_account: str,
                   **fields: Any) -> Manifest:
    """One long-running container with no model claim, config map or data of its own (the gateway, the proxy)."""
    return pod_spec(
        deployment, service_account,
        containers=[_long_running(deployment, plan, service)],
        volumes=volumes(deployment, service, claim=None, config_map=None),
        terminationGracePeriodSeconds=grace_period_seconds(),
        **fields,
    )


def gateway_deployment(deployment: Deployment, plan: RuntimePlan, gateway: ServicePlan,
                       service_account: str) -> Manifest:
    """The API-key gateway: the only thing clients reach; drains its own in-flight requests on shutdown."""
    pod = _stateless_pod(deployment, plan, gateway, service_account, topologySpreadConstraints=_spread(gateway))
    return _deployment(deployment, gateway, pod, replicas=gateway_replicas(deployment), strategy=SURGE)


def ui_deployment(deployment: Deployment, plan: RuntimePlan, ui: ServicePlan, service_account: str) -> Manifest:
    """Open WebUI: one replica on its own ReadWriteOnce data claim, so it is replaced, not surged."""
    data_path = dict(ui.env).get("DATA_DIR")
    pod = pod_spec(
        deployment, service_account,
        containers=[_long_running(deployment, plan, ui, data_path=data_path)],
        volumes=volumes(deployment, ui, claim=None, config_map=config_map_name(ui) if config_files(ui) else None,
                        data_claim=ui_data_claim(ui) if data_path else None),
        terminationGracePeriodSeconds=grace_period_seconds(),
    )
    return _deployment(deployment, ui, pod, replicas=1, strategy={"type": "Recreate"})


def egress_proxy_deployment(deployment: Deployment, plan: RuntimePlan, proxy: ServicePlan,
                            service_account: str) -> Manifest:
    """The model downloads' egress proxy: one replica, replaced rather than surged (a download retries)."""
    pod = _stateless_pod(deployment, plan, proxy, service_account)
    return _deployment(deployment, proxy, pod, replicas=1, strategy={"type": "Recreate"})


def ui_claim(deployment: Deployment, ui: ServicePlan) -> Manifest:
    """Open WebUI's data (users, chats); only its single pod mounts it."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(deployment, ui_data_claim(ui), dict(ui.labels)),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": UI_DATA_SIZE}}}}


def service(deployment: Deployment, main: ServicePlan) -> Manifest:
    """A ClusterIP Service; the serving port, plus the metrics port when it is separate."""
    ports = [{"name": "http", "port": main.port, "targetPort": main.port, "protocol": "TCP"}]
    if main.metrics_port and main.metrics_port != main.port:
        ports.append({"name": "metrics", "port": main.metrics_port, "targetPort": main.metrics_port,
                      "protocol": "TCP"})
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(deployment, main.name, dict(main.labels)),
            "spec": {"type": "ClusterIP", "selector": selector(main), "ports": ports}}


def disruption_budget(deployment: Deployment, main: ServicePlan) -> Manifest:
    """At most one pod of the service down at a time for voluntary disruptions (node drains, upgrades)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta(deployment, main.name, dict(main.labels)),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(main)}}}
