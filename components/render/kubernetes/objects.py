"""Every Kubernetes object of a deployment, in apply order, and the kustomization that lists their files."""

from __future__ import annotations

from slm_deploy.render.kubernetes.autoscaling import scaled_object, trigger_authentication
from slm_deploy.render.kubernetes.common import Manifest
from slm_deploy.render.kubernetes.exposure import ingress
from slm_deploy.render.kubernetes.model_cache import config_map, model_claim, prep_job
from slm_deploy.render.kubernetes.namespace import limit_range, namespace, resource_quota, service_account
from slm_deploy.render.kubernetes.network import network_policies
from slm_deploy.render.kubernetes.pods import config_files
from slm_deploy.render.kubernetes.probes import startup_failure_threshold
from slm_deploy.render.kubernetes.secret_sources import secret_source_objects, workload_identity_kustomization
from slm_deploy.render.kubernetes.security import container_security, pod_security
from slm_deploy.render.kubernetes.workloads import (
    disruption_budget, egress_proxy_deployment, gateway_deployment, gateway_replicas, runtime_deployment,
    runtime_replicas, service, ui_claim, ui_deployment,
)
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.render.monitoring.context import monitored
from slm_deploy.render.monitoring.kubernetes import monitoring_objects
from slm_deploy.spec.consistency import cluster_target, namespace_of
from slm_deploy.spec.loader import Deployment

__all__ = ["Manifest", "container_security", "file_name", "kustomization", "pod_security", "render_kubernetes",
           "startup_failure_threshold"]


def _pod(manifest: Manifest) -> dict:
    return manifest["spec"]["template"]["spec"]


def render_kubernetes(deployment: Deployment, plan: RuntimePlan) -> list[Manifest]:
    """Every object of the deployment, in apply order (namespace first, exposure last)."""
    account = deployment.spec.name
    runtimes, gateways, uis = plan.by_role("runtime"), plan.by_role("gateway"), plan.by_role("ui")
    runtime = runtimes[0]
    gateway = gateways[0] if gateways else None
    steps = [s for s in plan.by_role("model-prep") if s.model_dir]
    preps = [s for s in steps if not any(s.name in other.depends_on for other in steps)]
    prep = preps[0] if preps else None
    claims = [model_claim(deployment)] if any(s.model_dir for s in plan.services) else []
    configs = [config_map(deployment, s) for s in plan.services if config_files(s)]
    jobs = [prep_job(deployment, plan, p, account, runtime, [s for s in steps if s.name in p.depends_on])
            for p in preps]

    low, high = runtime_replicas(deployment)
    workloads = [(runtime_deployment(deployment, plan, runtime, account, prep), high + 1, runtime)]
    if gateway:
        workloads.append((gateway_deployment(deployment, plan, gateway, account), gateway_replicas(deployment) + 1,
                          gateway))
    for ui in uis:
        claims.append(ui_claim(deployment, ui))
        workloads.append((ui_deployment(deployment, plan, ui, account), 1, ui))
    for proxy in plan.by_role("egress-proxy"):
        workloads.append((egress_proxy_deployment(deployment, plan, proxy, account), 1, proxy))
    services = [service(deployment, s) for _, _, s in workloads if s.port]
    budgets = [disruption_budget(deployment, runtime)] if high > 1 else []
    if gateway and gateway_replicas(deployment) > 1:
        budgets.append(disruption_budget(deployment, gateway))
    pods = [(_pod(w), copies) for w, copies, _ in workloads] + [(_pod(j), 1) for j in jobs]

    objects = [service_account(deployment)]
    if not cluster_target(deployment.spec).shared_namespace:
        objects = [namespace(deployment), *objects, resource_quota(deployment, pods, claims, len(services)),
                   limit_range(deployment, pods)]
    objects += secret_source_objects(deployment, plan)
    objects += claims + configs + jobs + [w for w, _, _ in workloads] + services + budgets
    if deployment.spec.serving.autoscaling.enabled:
        objects += trigger_authentication(deployment)
        objects.append(scaled_object(deployment, runtime))
    if deployment.spec.monitoring.enabled:
        objects += monitoring_objects(deployment, monitored(deployment, plan))
    objects += network_policies(deployment, plan, [s for _, _, s in workloads], preps)
    if gateway and deployment.spec.exposure.mode == "ingress":
        objects.append(ingress(deployment, gateway))
    return objects


def file_name(manifest: Manifest) -> str:
    """One file per object: <kind>-<name>.yaml."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def kustomization(files: list[str], deployment: Deployment, objects: list[Manifest]) -> Manifest:
    """The kustomization that lists every object file (and fills in the Key Vault identity, when one is used)."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": namespace_of(deployment.spec), "resources": files,
            **workload_identity_kustomization(deployment, objects)}
