"""Containers and pod specs: pinned image, exec-form command, writable paths as emptyDirs, restricted security."""

from __future__ import annotations

from typing import Any

from slm_deploy.render.images import cluster_image
from slm_deploy.render.kubernetes.common import CONFIG_MOUNT
from slm_deploy.render.kubernetes.gpu_scheduling import (GPU_MEMORY_LABEL, GPU_MEMORY_REPORTED_PERCENT, GPU_NODE_LABELS,
                                                        GPU_RESOURCE, GPU_TOLERATIONS)
from slm_deploy.render.kubernetes.secret_sources import secret_volume
from slm_deploy.render.kubernetes.security import container_security, pod_defaults
from slm_deploy.runtimes.plan import CACHE_ROOT, SECRETS_ROOT, RuntimePlan, ServicePlan
from slm_deploy.spec.idle_fields import written
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.sections import GpuType
from slm_deploy.spec.sizing import GPU_MEMORY
from slm_deploy.spec.quantity import MIB, format_mib
from slm_deploy.spec.present import gpu_of

TMP_SIZE = "256Mi"
CACHE_SIZE = {"runtime": "2Gi", "model-prep": "2Gi"}
DEFAULT_CACHE_SIZE = "512Mi"
MODELS_VOLUME = "models"


def resources(service: ServicePlan) -> dict[str, Any]:
    """Requests equal limits (Guaranteed QoS); GPUs only as limits, which the scheduler also treats as requests."""
    memory = format_mib(service.memory_bytes)
    cpu = f"{round(service.cpu * 1000)}m"
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if service.gpu:
        limits[GPU_RESOURCE] = service.gpu.count
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def config_files(service: ServicePlan) -> dict[str, str]:
    """Files the pinned upstream image lacks but the command needs (scripts, Modelfile), served from a ConfigMap."""
    if service.image is None or service.build is None:
        return {}
    return {path: text for path, text in service.build.context_files if "/" not in path}


def mounts(service: ServicePlan, *, models_read_only: bool, data_path: str | None = None) -> list[dict[str, Any]]:
    """Every writable path as its own volume; the root filesystem stays read-only."""
    found: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "cache", "mountPath": CACHE_ROOT}]
    if service.model_dir:
        mount: dict[str, Any] = {"name": MODELS_VOLUME, "mountPath": service.model_dir}
        if models_read_only:
            mount["readOnly"] = True
        found.append(mount)
    if service.role == "runtime":
        found.append({"name": "dshm", "mountPath": "/dev/shm"})
    if data_path:
        found.append({"name": "data", "mountPath": data_path})
    if config_files(service):
        found.append({"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True})
    if service.secret_files:
        found.append({"name": "secrets", "mountPath": SECRETS_ROOT, "readOnly": True})
    return found


def container(deployment: Deployment, plan: RuntimePlan, service: ServicePlan, *,
              name: str | None = None, models_read_only: bool = False,
              data_path: str | None = None) -> dict[str, Any]:
    """One container with the plan's image, command, env and ports and the restricted security context."""
    body: dict[str, Any] = {
        "name": name or ("server" if service.role == "runtime" else service.role),
        "image": cluster_image(deployment, plan, service),
        "imagePullPolicy": "Always",
    }
    if service.command:
        body["command"] = list(service.command)
    if service.args:
        body["args"] = list(service.args)
    if service.env:
        body["env"] = [{"name": key, "value": value} for key, value in service.env]
    ports = []
    if service.port:
        ports.append({"name": "http", "containerPort": service.port, "protocol": "TCP"})
    if service.metrics_port and service.metrics_port != service.port:
        ports.append({"name": "metrics", "containerPort": service.metrics_port, "protocol": "TCP"})
    if ports:
        body["ports"] = ports
    body["resources"] = resources(service)
    body["securityContext"] = container_security(deployment)
    body["volumeMounts"] = mounts(service, models_read_only=models_read_only, data_path=data_path)
    return body


def volumes(deployment: Deployment, service: ServicePlan, *, claim: str | None, config_map: str | None,
            data_claim: str | None = None) -> list[dict[str, Any]]:
    """The volumes the pod's mounts name, all of Pod Security restricted kinds (emptyDir, PVC, projected,
    configMap, csi)."""
    found: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}},
        {"name": "cache", "emptyDir": {"sizeLimit": CACHE_SIZE.get(service.role, DEFAULT_CACHE_SIZE)}},
    ]
    if claim:
        found.append({"name": MODELS_VOLUME, "persistentVolumeClaim": {"claimName": claim}})
    if service.role == "runtime":
        found.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": format_mib(service.shm_bytes)}})
    if data_claim:
        found.append({"name": "data", "persistentVolumeClaim": {"claimName": data_claim}})
    if config_map:
        found.append({"name": "config", "configMap": {"name": config_map, "defaultMode": 0o444}})
    secrets = secret_volume(deployment, service)
    if secrets:
        found.append(secrets)
    return found


def gpu_memory_floor_mib(gpu_type: GpuType) -> int:
    """The least memory a node's GPU may report (GPU feature discovery's nvidia.com/gpu.memory, MiB) and still be
    the declared type: NVML reports somewhat less than the nominal size (an L4 shows 23034 MiB of 24 GiB)."""
    return GPU_MEMORY[gpu_type] * GPU_MEMORY_REPORTED_PERCENT // 100 // MIB


def _gpu_type_affinity(deployment: Deployment) -> dict[str, Any]:
    """On a cluster slm-deploy does not create, a written GPU type selects nodes whose GPUs have its memory (on AKS the
    GPU pool's VM size is chosen from it instead)."""
    spec = deployment.spec
    if spec.targets.aks is not None or not written(spec, "resources", "gpu", "type"):
        return {}
    term = {"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(gpu_memory_floor_mib(gpu_of(spec).type) - 1)]}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [term]}]}}}}


def gpu_scheduling(deployment: Deployment, service: ServicePlan) -> dict[str, Any]:
    """GPU pods go to GPU nodes only (label), with the declared GPU's memory, and are the only pods that tolerate
    the GPU pool's taint."""
    if not service.gpu:
        return {}
    return {"nodeSelector": dict(GPU_NODE_LABELS), **_gpu_type_affinity(deployment),
            "tolerations": [dict(t) for t in GPU_TOLERATIONS]}


def pod_spec(deployment: Deployment, service_account: str, **fields: Any) -> dict[str, Any]:
    """A pod spec with the restricted defaults first, then the caller's fields in order."""
    return {**pod_defaults(deployment, service_account), **fields}
