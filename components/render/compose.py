"""The Compose project: hardened service defaults in one place, services built from plans as data."""

from __future__ import annotations

import math
from typing import Any

from slm_deploy.render.images import owner_of
from slm_deploy.render.monitoring import compose as monitoring
from slm_deploy.runtimes.plan import CACHE_ROOT, ExecCheck, HttpCheck, RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment

BACKEND = "backend"
EDGE = "edge"
EGRESS = "egress"
DOWNLOAD = "model-download"
"""Internal: the download steps and the egress proxy, which alone also joins EGRESS."""
PIDS_LIMIT = 512
MIB = 2**20
CURL_CHECK = ("curl", "-fsS")


ONE_SHOT_RESTARTS = 3
SMOKE_PROFILE = "smoke"
SMOKE_NETWORK = "smoke"
UI_DATA_VOLUME = "open-webui-data"


def project_name(deployment: Deployment) -> str:
    """The Compose project name, written to .env because Compose 1.29 rejects a top-level name."""
    target = deployment.spec.targets.compose
    return (target.project_name if target and target.project_name else deployment.spec.name)


def published_address(address: str) -> str:
    """The host part of a short-syntax port: IPv6 addresses go in brackets, as Compose requires."""
    return f"[{address}]" if ":" in address else address


def _hardened(deployment: Deployment, service: ServicePlan) -> dict[str, Any]:
    """Defaults every service gets; callers add to them, never remove."""
    security = deployment.spec.security
    cache_mib = 1024 if service.role == "runtime" else 256
    return {
        "user": f"{security.uid}:{security.gid}",
        "read_only": True,
        "tmpfs": [
            "/tmp:size=256m,mode=1777",
            f"{CACHE_ROOT}:size={cache_mib}m,uid={security.uid},gid={security.gid},mode=0700",
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "init": True,
        "pids_limit": PIDS_LIMIT,
        "cpus": f"{service.cpu:g}",
        "mem_limit": f"{math.ceil(service.memory_bytes / MIB)}m",
        "restart": f"on-failure:{ONE_SHOT_RESTARTS}" if service.one_shot else "on-failure:5",
    }


def _healthcheck(service: ServicePlan, plan: RuntimePlan) -> dict[str, Any] | None:
    """The server's check. A step other services wait for to complete serves nothing: the check it would
    inherit from the server's image is turned off, or Docker reports the step unhealthy while it downloads."""
    if any(service.name in s.depends_on for s in plan.services) and service.one_shot:
        return {"disable": True}
    if service.build and service.build.healthcheck:
        test = ["CMD", *service.build.healthcheck]
    elif isinstance(service.health, ExecCheck):
        test = ["CMD", *service.health.command]
    elif isinstance(service.health, HttpCheck):
        test = ["CMD", *CURL_CHECK, f"http://127.0.0.1:{service.health.port}{service.health.path}"]
    else:
        return None
    return {"test": test, "interval": "30s", "timeout": "5s", "retries": 3,
            "start_period": f"{min(service.startup_budget_seconds, 3600)}s"}


def _volumes(service: ServicePlan) -> list[str]:
    if service.model_host_path:
        return [f"{service.model_host_path}:{service.model_dir or '/models'}/onnx:ro"]
    if service.model_dir:
        return [f"models:{service.model_dir}"]
    if service.role == "ui":
        return [f"{UI_DATA_VOLUME}:{dict(service.env).get('DATA_DIR', '/app/backend/data')}"]
    return []


def is_published(service: ServicePlan, plan: RuntimePlan) -> bool:
    """Clients reach the gateway (or, without one, the runtime) and the UI; nothing else is published."""
    gated = bool(plan.by_role("gateway"))
    return bool(service.port) and (service.role in ("gateway", "ui") or (service.role == "runtime" and not gated))


def _networks(service: ServicePlan, plan: RuntimePlan) -> list[str]:
    """Only the gateway joins both sides; the runtime sits alone with it on the internal backend network.

    The UI reaches the gateway on the edge network, so nothing but the gateway can open the runtime's
    port; model downloads sit on an internal network with the egress proxy alone, the proxy is the only service with
    a route out, and the conversion step has no network at all.
    """
    gated = bool(plan.by_role("gateway"))
    if service.role == "model-prep":
        return [DOWNLOAD]
    if service.role == "egress-proxy":
        return [DOWNLOAD, EGRESS]
    if service.role == "smoke":
        return [SMOKE_NETWORK]  # internal: reaches the service clients use, nothing behind it, no route out
    if service.role == "ui" and gated:
        return [EDGE]
    networks = [BACKEND]
    if is_published(service, plan):
        networks.append(EDGE)
        if plan.by_role("smoke") and service.role != "ui":
            networks.append(SMOKE_NETWORK)
    if monitoring.joins_metrics(plan, service):
        networks.append(monitoring.METRICS)
    return networks


def _image(deployment: Deployment, plan: RuntimePlan, service: ServicePlan) -> dict[str, Any]:
    """Built services name only their build (Compose tags it); others run the image pinned by digest."""
    if service.build is not None:
        return {"build": {"context": f"../docker/{owner_of(plan, service).name}"}}
    if service.image is None:
        raise ValueError(f"service {service.name} has neither a pinned image nor a build")
    return {"image": service.image.reference}


def render_compose(deployment: Deployment, plan: RuntimePlan) -> dict[str, Any]:
    """The compose.yaml document for every containerised service of the plan."""
    services: dict[str, Any] = {}
    secrets: set[str] = set()
    bind = published_address(deployment.spec.exposure.bind_address)
    for service in plan.services:
        body: dict[str, Any] = _image(deployment, plan, service)
        body.update(_hardened(deployment, service))
        if service.role == "monitoring":
            body.update(_monitoring_service(deployment, plan, service))
            services[service.name] = body
            secrets.update(f.secret for f in service.secret_files)
            continue
        body.update(_process(service))
        if is_published(service, plan):
            body["ports"] = [f"{bind}:{service.port}:{service.port}"]
        volumes = _volumes(service)
        if volumes:
            body["volumes"] = volumes
        if service.offline:
            body["network_mode"] = "none"
        else:
            body["networks"] = _networks(service, plan)
        if service.secret_files:
            body["secrets"] = [{"source": f.secret, "target": f.secret} for f in service.secret_files]
            secrets.update(f.secret for f in service.secret_files)
        health = _healthcheck(service, plan)
        if health:
            body["healthcheck"] = health
        if service.role == "runtime" and (service.runtime == "vllm" or deployment.spec.resources.shm_size):
            body["shm_size"] = f"{math.ceil(service.shm_bytes / MIB)}m"
        if service.gpu:
            body["deploy"] = {"resources": {"reservations": {"devices": [
                {"driver": "nvidia", "count": service.gpu.count, "capabilities": ["gpu"]}]}}}
        if service.depends_on:
            body["depends_on"] = {
                dep: {"condition": "service_completed_successfully" if _one_shot(plan, dep) else "service_healthy"}
                for dep in service.depends_on
            }
        if service.role in ("model-prep", "egress-proxy") and deployment.spec.runtime.kind == "ollama":
            body["profiles"] = ["prep"]
        if service.role == "smoke":
            body["profiles"] = [SMOKE_PROFILE]  # run on demand after `up`, never by `up` itself
        log_driver = monitoring.logging(deployment, plan, service)
        if log_driver:
            body["logging"] = log_driver
        body["labels"] = dict(service.labels)
        services[service.name] = body
    networks: dict[str, Any] = {BACKEND: {"internal": True}, EDGE: {}, **monitoring.networks(plan)}
    if plan.by_role("egress-proxy"):
        networks |= {DOWNLOAD: {"internal": True}, EGRESS: {}}
    if plan.by_role("smoke"):
        networks[SMOKE_NETWORK] = {"internal": True}
    document: dict[str, Any] = {"services": services, "networks": networks}
    named: dict[str, dict[str, Any]] = {
        name: {} for s in plan.by_role("monitoring") if (name := monitoring.data_volume(s))}
    if any(s.model_dir and not s.model_host_path for s in plan.services):
        named["models"] = {}
    if plan.by_role("ui"):
        named[UI_DATA_VOLUME] = {}
    if named:
        document["volumes"] = dict(sorted(named.items()))
    if secrets:
        document["secrets"] = {name: {"file": f"./secrets/{name}"} for name in sorted(secrets)}
    return document


def _process(service: ServicePlan) -> dict[str, Any]:
    """What the container runs: entrypoint, arguments and environment."""
    body: dict[str, Any] = {}
    if service.command:
        body["entrypoint"] = list(service.command)
    if service.args:
        body["command"] = list(service.args)
    if service.env:
        body["environment"] = dict(service.env)
    return body


def _monitoring_service(deployment: Deployment, plan: RuntimePlan, service: ServicePlan) -> dict[str, Any]:
    """A monitoring service: its command, environment, secrets and health check, then where it sits."""
    body = _process(service)
    if service.secret_files:
        body["secrets"] = [{"source": f.secret, "target": f.secret} for f in service.secret_files]
    body["healthcheck"] = _healthcheck(service, plan)
    body.update(monitoring.service_body(deployment, service))
    body["labels"] = dict(service.labels)
    return body


def _one_shot(plan: RuntimePlan, name: str) -> bool:
    return any(s.name == name and s.one_shot for s in plan.services)
