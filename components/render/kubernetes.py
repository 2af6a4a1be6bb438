"""Kubernetes objects as camelCase dicts; the restricted pod security lives in pod_security/container_security."""

from __future__ import annotations

import math
from typing import Any

from slm_deploy.render.images import cluster_image
from slm_deploy.runtimes.plan import CACHE_ROOT, SECRETS_ROOT, Check, ExecCheck, HttpCheck, RuntimePlan, ServicePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.quantity import MIB, format_gib, format_mib

PSS_VERSION = "v1.34"
PROBE_PERIOD = 10
CONFIG_MOUNT = "/etc/slm"
GPU_RESOURCE = "nvidia.com/gpu"

Manifest = dict[str, Any]


def _meta(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels
    return meta


def _selector(service: ServicePlan) -> dict[str, str]:
    labels = dict(service.labels)
    return {"app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
            "app.kubernetes.io/component": labels["app.kubernetes.io/component"]}


def namespace(deployment: Deployment) -> Manifest:
    """A dedicated namespace enforcing Pod Security `restricted` (enforce, audit and warn)."""
    labels = {"app.kubernetes.io/managed-by": "slm-deploy"}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = PSS_VERSION
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace_of(deployment.spec), None, labels)}


def service_account(deployment: Deployment) -> Manifest:
    """The workloads' own identity, with no API token mounted."""
    return {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": _meta(deployment.spec.name, namespace_of(deployment.spec),
                          {"app.kubernetes.io/managed-by": "slm-deploy"}),
        "automountServiceAccountToken": False,
    }


def pod_security(deployment: Deployment) -> dict[str, Any]:
    """Pod-level restricted security context."""
    security = deployment.spec.security
    return {
        "runAsNonRoot": True,
        "runAsUser": security.uid,
        "runAsGroup": security.gid,
        "fsGroup": security.gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(deployment: Deployment) -> dict[str, Any]:
    """Container-level restricted security context (repeated for per-container scanners)."""
    security = deployment.spec.security
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": security.uid,
        "runAsGroup": security.gid,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(check: Check, failure_threshold: int, period: int = PROBE_PERIOD) -> dict[str, Any]:
    if isinstance(check, HttpCheck):
        action: dict[str, Any] = {"httpGet": {"path": check.path, "port": check.port}}
    else:
        action = {"exec": {"command": list(check.command)}}
    return {**action, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failure_threshold}


def _resources(service: ServicePlan) -> dict[str, Any]:
    memory = format_mib(service.memory_bytes)
    cpu = f"{int(service.cpu * 1000)}m"
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if service.gpu:
        limits[GPU_RESOURCE] = service.gpu.count
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def _mounts(service: ServicePlan) -> list[dict[str, Any]]:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "cache", "mountPath": CACHE_ROOT}]
    if service.model_dir:
        mounts.append({"name": "models", "mountPath": service.model_dir})
    if service.role == "runtime" and service.shm_bytes > 64 * MIB:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    if service.secret_files:
        mounts.append({"name": "secrets", "mountPath": SECRETS_ROOT, "readOnly": True})
    return mounts


def container(deployment: Deployment, plan: RuntimePlan, service: ServicePlan) -> dict[str, Any]:
    """One container: pinned image, exec-form command, probes, resources and restricted security."""
    body: dict[str, Any] = {"name": service.role if service.role != "runtime" else "server",
                            "image": cluster_image(deployment, plan, service), "imagePullPolicy": "Always"}
    if service.command:
        body["command"] = list(service.command)
    if service.args:
        body["args"] = list(service.args)
    if service.env:
        body["env"] = [{"name": k, "value": v} for k, v in service.env]
    if service.port:
        body["ports"] = [{"name": "http", "containerPort": service.port, "protocol": "TCP"}]
    if service.health and not service.one_shot:
        startup_failures = math.ceil(service.startup_budget_seconds / PROBE_PERIOD)
        body["startupProbe"] = _probe(service.health, startup_failures)
        body["readinessProbe"] = _probe(service.readiness or service.health, 3)
        body["livenessProbe"] = _probe(service.health, 3, period=20)
    body["resources"] = _resources(service)
    body["securityContext"] = container_security(deployment)
    body["volumeMounts"] = _mounts(service)
    return body


def _volumes(deployment: Deployment, services: list[ServicePlan]) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "2Gi"}},
    ]
    if any(s.model_dir for s in services):
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": f"{deployment.spec.name}-models"}})
    runtime = services[0]
    if runtime.role == "runtime" and runtime.shm_bytes > 64 * MIB:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": format_mib(runtime.shm_bytes)}})
    names = sorted({f.secret for s in services for f in s.secret_files})
    if names:
        volumes.append({"name": "secrets", "projected": {"defaultMode": 0o440, "sources": [
            {"secret": {"name": name, "items": [{"key": name, "path": name}]}} for name in names]}})
    return volumes


def _pod_spec(deployment: Deployment, plan: RuntimePlan, main: ServicePlan,
              init: list[ServicePlan]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": deployment.spec.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(deployment),
    }
    if init:
        spec["initContainers"] = [container(deployment, plan, s) for s in init]
    spec["containers"] = [container(deployment, plan, main)]
    spec["volumes"] = _volumes(deployment, [main, *init])
    spec["terminationGracePeriodSeconds"] = 60
    if main.gpu:
        spec["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
        spec["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return spec


def workload(deployment: Deployment, plan: RuntimePlan, main: ServicePlan, init: list[ServicePlan]) -> Manifest:
    """A Deployment whose pods run `main`, after `init` has filled the model cache."""
    labels = dict(main.labels)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(main.name, namespace_of(deployment.spec), labels),
        "spec": {
            "replicas": deployment.spec.serving.replicas if main.role == "runtime" else 1,
            "selector": {"matchLabels": _selector(main)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(deployment, plan, main, init)},
        },
    }


def service(deployment: Deployment, main: ServicePlan) -> Manifest:
    """A ClusterIP Service; nothing is published outside the cluster from here."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(main.name, namespace_of(deployment.spec), dict(main.labels)),
        "spec": {"type": "ClusterIP", "selector": _selector(main),
                 "ports": [{"name": "http", "port": main.port, "targetPort": main.port, "protocol": "TCP"}]},
    }


def model_claim(deployment: Deployment) -> Manifest:
    """The model cache, sized from the weights, so pods never download at start."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": format_gib(deployment.sizing.cache_volume_bytes)}}}
    target = kubernetes_target(deployment.spec)
    if target and target.storage_class:
        spec["storageClassName"] = target.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": _meta(f"{deployment.spec.name}-models", namespace_of(deployment.spec),
                              {"app.kubernetes.io/managed-by": "slm-deploy"}),
            "spec": spec}


def render_kubernetes(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """Every object of the deployment, in apply order."""
    objects = [namespace(deployment), service_account(deployment)]
    runtime = plan.by_role("runtime")
    if any(s.model_dir for s in plan.services):
        objects.append(model_claim(deployment))
    preps = [s for s in plan.by_role("model-prep") if s.runtime != "ollama"]
    for main in (*runtime, *plan.by_role("gateway"), *plan.by_role("ui")):
        init = preps if main.role == "runtime" else []
        objects.append(workload(deployment, plan, main, init))
        objects.append(service(deployment, main))
    return objects


def file_name(manifest: Manifest) -> str:
    """One file per object: <kind>-<name>.yaml."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def kustomization(files: list[str], deployment: Deployment) -> Manifest:
    """The kustomization that lists every object file."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": namespace_of(deployment.spec), "resources": files}
