"""The one place that decides whether a loaded spec can be deployed: `validate`, `render` and the Pulumi
program all plan through here, so a spec that validates renders.

The loader has already checked every field and every rule between fields (spec/consistency.py). The
checks here need the plan: which services exist and which images slm-deploy builds. Each check is a
function (deployment, plan) -> problems; add new ones to CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable

from slm_deploy.errors import Problem, SpecError
from slm_deploy.render.compose import is_published
from slm_deploy.render.images import owner_of
from slm_deploy.render.monitoring.compose import published as monitoring_published
from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment


def cluster_can_pull_built_images(deployment: Deployment, plan: RuntimePlan) -> list[Problem]:
    """Kubernetes pulls from a registry, so images slm-deploy builds (the gateway, the ONNX server) need one."""
    docker = deployment.spec.targets.docker
    if kubernetes_target(deployment.spec) is None or (docker is not None and docker.registry is not None):
        return []
    built = sorted({s.role for s in plan.services if s.image is None})
    if not built:
        return []
    return [Problem("targets.docker.registry",
                    f"is required with a Kubernetes target: the cluster must pull the images slm-deploy builds "
                    f"({', '.join(built)})",
                    allowed="a registry host such as myregistry.azurecr.io",
                    hint="set targets.docker.registry; `pulumi up` builds and pushes there, pinned by digest")]


PORT_FIELDS = {"gateway": "exposure.port", "ui": "runtime.open_webui.port", "runtime": "serving.port"}
"""The spec field that sets each published service's port."""
MONITORING_PORT_FIELDS = {"prometheus": "monitoring.ports.prometheus", "alertmanager": "monitoring.ports.alertmanager",
                          "grafana": "monitoring.ports.grafana", "alloy": "monitoring.ports.logs"}
"""The spec field that sets the host port Compose publishes each monitoring service on."""


def _host_ports(deployment: Deployment, plan: RuntimePlan) -> list[tuple[tuple[int, str], str]]:
    """(host port, protocol) and the field that sets it, for every service Compose publishes on the host."""
    found = [((service.port, "tcp"), PORT_FIELDS.get(service.role, "serving.port"))
             for service in plan.services if is_published(service, plan) and service.port is not None]
    if deployment.spec.targets.compose is None:
        return found
    for service in plan.by_role("monitoring"):
        for entry in monitoring_published(deployment, service):
            mapping, _, protocol = entry.partition("/")
            found.append(((int(mapping.split(":")[-2]), protocol or "tcp"), MONITORING_PORT_FIELDS[service.runtime]))
    return found


def published_ports_differ(deployment: Deployment, plan: RuntimePlan) -> list[Problem]:
    """Two services published on one host port and protocol cannot both bind it (the UI, the gateway and the
    monitoring services all publish on the host)."""
    problems: list[Problem] = []
    published: dict[tuple[int, str], str] = {}
    for port, field in _host_ports(deployment, plan):
        if port in published:
            problems.append(Problem(field, f"is also the host port of {published[port]}; Compose could not publish "
                                    "both", allowed="a port no other published service uses"))
        published.setdefault(port, field)
    return problems


def slots_endpoint_is_waived(deployment: Deployment, plan: RuntimePlan) -> list[Problem]:
    """llama.cpp's /slots shows other users' prompts; the pack reports it unless the spec waives each resource."""
    spec = deployment.spec
    if getattr(spec.runtime, "slots", False) is not True:
        return []
    runtime = plan.by_role("runtime")[0]
    needed = set()
    if (spec.targets.docker or spec.targets.compose) and runtime.build is not None:
        needed.add(f"docker/{owner_of(plan, runtime).name}/Dockerfile")
    if spec.targets.compose:
        needed.add("compose/compose.yaml")
    if kubernetes_target(spec):
        needed.add(f"Deployment/{namespace_of(spec)}/{runtime.name}")
    waived = {w.resource for w in spec.waivers if w.rule == "slm-serving-008"}
    if needed <= waived:
        return []
    return [Problem("runtime.slots", "turns on the /slots endpoint, which shows running prompts; the policy pack "
                    "reports it (slm-serving-008)",
                    allowed="false, or a waiver of slm-serving-008 with a reason for each resource it names",
                    hint="waive it for each of docker/<service>/Dockerfile, compose/compose.yaml and "
                         "Deployment/<namespace>/<service> that the targets produce")]


CHECKS: tuple[Callable[[Deployment, RuntimePlan], list[Problem]], ...] = (
    cluster_can_pull_built_images,
    published_ports_differ,
    slots_endpoint_is_waived,
)


def deployable_plan(deployment: Deployment) -> RuntimePlan:
    """Plan the deployment, or raise one SpecError listing every reason it cannot be deployed."""
    try:
        plan = plan_deployment(deployment)
    except SpecError as exc:
        raise deployment.error(exc.problems) from None
    problems = [problem for check in CHECKS for problem in check(deployment, plan)]
    if problems:
        raise deployment.error(problems)
    return plan
