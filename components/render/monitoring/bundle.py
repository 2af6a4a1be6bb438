"""The monitoring/ folder of a bundle: whether there is one, and what the bundle README says of it (the files
themselves are rendered by render.monitoring.files, loaded only for a monitored deployment; the bundled Kubernetes
stack's objects are in kubernetes/monitoring/)."""

from __future__ import annotations

from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.consistency import kubernetes_target
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secret_uses import in_monitoring_namespace, read_on_kubernetes, secrets_of

ROOT = "monitoring"


def is_monitored(deployment: Deployment, plan: RuntimePlan) -> bool:
    """Monitoring is on and there is a containerised runtime to watch."""
    return deployment.spec.monitoring.enabled and bool(plan.by_role("runtime"))


def platforms(deployment: Deployment) -> list[str]:
    """The platforms whose rule sets the bundle carries (Compose and/or Kubernetes)."""
    spec = deployment.spec
    return [p for p, on in (("compose", spec.targets.compose is not None),
                            ("kubernetes", kubernetes_target(spec) is not None)) if on]


def monitoring_files(deployment: Deployment, plan: RuntimePlan) -> dict[str, str]:
    """Every file under monitoring/ for this deployment."""
    if not is_monitored(deployment, plan):
        return {}
    from slm_deploy.render.monitoring.files import monitored_files  # noqa: PLC0415

    return monitored_files(deployment, plan)


def readme_facts(deployment: Deployment, plan: RuntimePlan, files: dict[str, str]) -> dict | None:
    """What the bundle README says about monitoring, or None when the bundle has none."""
    if not any(path.startswith(f"{ROOT}/") for path in files):
        return None
    from slm_deploy.render.kubernetes.autoscaling import prometheus_address  # noqa: PLC0415
    from slm_deploy.render.monitoring.stack_names import part_name  # noqa: PLC0415

    spec = deployment.spec
    receiver = spec.monitoring.receiver
    target = kubernetes_target(spec)
    return {
        "rule_files": sorted(p.removeprefix(f"{ROOT}/prometheus/") for p in files if p.endswith(".rules.yml")),
        "receiver": receiver,
        "receiver_secrets": secrets_of(spec, "alertmanager"),
        "cluster_secrets": [n for n in sorted(spec.secrets)
                            if in_monitoring_namespace(spec, n) and read_on_kubernetes(spec, n)],
        "mode": monitoring_mode(spec),
        "namespace": target.monitoring_namespace if target else None,
        "selector": ", ".join(f"`{k}: {v}`" for k, v in spec.monitoring.selector_labels.items()),
        "keda_address": prometheus_address(deployment) if target else None,
        "grafana_service": part_name(deployment, "grafana") if target else None,
    }
