"""What monitoring needs to know about one deployment, read once from the spec and the plan."""

from __future__ import annotations

from dataclasses import dataclass

from slm_deploy.runtimes.plan import RuntimePlan, ServicePlan
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.sections import Slo

PLATFORMS = ("compose", "kubernetes")


@dataclass(frozen=True)
class Monitored:
    """One deployment as the rules, scrape configs and dashboards see it."""

    name: str
    runtime: str
    model: str
    runtime_service: ServicePlan
    gateway: ServicePlan | None
    namespace: str | None
    gpu: bool
    ingress: bool
    startup_budget_seconds: int
    queue_limit: int
    slo: Slo
    scrape_interval_seconds: int

    @property
    def scraped(self) -> tuple[ServicePlan, ...]:
        """Services with a metrics endpoint, runtime first."""
        return tuple(s for s in (self.runtime_service, self.gateway) if s is not None and s.metrics_path)

    def target_labels(self, service: ServicePlan) -> dict[str, str]:
        """Labels every scraped series of a service carries, whatever scrapes it."""
        component = "gateway" if service.role == "gateway" else "runtime"
        return {"deployment": self.name, "runtime": self.runtime, "component": component, "model": self.model}


def monitored(deployment: Deployment, plan: RuntimePlan) -> Monitored:
    """The monitoring view of a deployment with at least one containerised runtime."""
    spec = deployment.spec
    runtime = plan.by_role("runtime")[0]
    gateways = plan.by_role("gateway")
    scaling = spec.serving.autoscaling
    replicas = scaling.max_replicas if scaling.enabled else spec.serving.replicas
    return Monitored(
        name=spec.name, runtime=spec.runtime.kind, model=deployment.model.served_name, runtime_service=runtime,
        gateway=gateways[0] if gateways else None,
        namespace=namespace_of(spec) if kubernetes_target(spec) else None,
        gpu=spec.resources.gpu is not None, ingress=spec.exposure.mode == "ingress",
        startup_budget_seconds=runtime.startup_budget_seconds,
        queue_limit=deployment.sizing.concurrency * replicas, slo=spec.monitoring.slo,
        scrape_interval_seconds=spec.monitoring.scrape_interval_seconds,
    )
