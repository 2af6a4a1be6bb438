"""The monitoring/ folder of a bundle: rules and their promtool tests, Prometheus, Alertmanager, Grafana
and log pipeline configuration for Compose (the bundled Kubernetes stack's objects are in kubernetes/monitoring/)."""

from __future__ import annotations

from slm_deploy.render.monitoring.alertmanager import alertmanager_config
from slm_deploy.render.monitoring.context import Monitored, monitored
from slm_deploy.render.monitoring.grafana import dashboard_provider, datasources, grafana_ini
from slm_deploy.render.monitoring.logs import alloy_config, loki_config
from slm_deploy.render.monitoring.prometheus import TESTS_DIR, prometheus_config, rule_file_name
from slm_deploy.render.monitoring.rule_tests import rule_tests
from slm_deploy.render.monitoring.rules import alerts, not_raised
from slm_deploy.render.monitoring.texts import dashboard_files, rule_file
from slm_deploy.render.serialize import to_json, to_yaml
from slm_deploy.render.templating import render_template
from slm_deploy.runtimes.monitoring import monitoring_name
from slm_deploy.runtimes.plan import SECRETS_ROOT, RuntimePlan
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


def rules_and_tests(m: Monitored, platform: str) -> dict[str, str]:
    """A platform's rule file and the promtool test file that exercises it."""
    suffix = "" if platform == "compose" else f"-{platform}"
    rules = rule_file_name(m).replace(".rules.yml", f"{suffix}.rules.yml")
    return {
        f"{ROOT}/prometheus/{rules}": rule_file(m, platform),
        f"{ROOT}/prometheus/{TESTS_DIR}/{m.name}{suffix}.test.yml": to_yaml(rule_tests(m, platform, f"../{rules}")),
    }


def _compose_files(deployment: Deployment, m: Monitored) -> dict[str, str]:
    spec = deployment.spec
    host = lambda part: monitoring_name(deployment, part)  # noqa: E731
    files = {
        f"{ROOT}/prometheus/prometheus.yml": to_yaml(prometheus_config(m, host("alertmanager"))),
        f"{ROOT}/alertmanager/alertmanager.yml": to_yaml(alertmanager_config(
            m.name, spec.monitoring.receiver, lambda name: f"{SECRETS_ROOT}/{name}")),
    }
    if spec.monitoring.grafana.enabled:
        loki = host("loki") if spec.monitoring.logs else None
        files[f"{ROOT}/grafana/provisioning/datasources/slm-deploy.yaml"] = to_yaml(datasources(host("prometheus"), loki))
        files[f"{ROOT}/grafana/provisioning/dashboards/slm-deploy.yaml"] = to_yaml(dashboard_provider())
        files[f"{ROOT}/grafana/grafana.ini"] = grafana_ini(f"{SECRETS_ROOT}/{spec.monitoring.grafana.admin_password_secret}")
    if spec.monitoring.logs:
        files[f"{ROOT}/loki/loki.yaml"] = to_yaml(loki_config())
        files[f"{ROOT}/alloy/config.alloy"] = alloy_config(m.name, host("loki"))
    return files


def monitoring_files(deployment: Deployment, plan: RuntimePlan) -> dict[str, str]:
    """Every file under monitoring/ for this deployment."""
    if not is_monitored(deployment, plan):
        return {}
    m = monitored(deployment, plan)
    files: dict[str, str] = {}
    for platform in platforms(deployment):
        files.update(rules_and_tests(m, platform))
    files.update({f"{ROOT}/grafana/dashboards/{name}": text for name, text in dashboard_files(m)})
    if deployment.spec.targets.compose is not None:
        files.update(_compose_files(deployment, m))
    if kubernetes_target(deployment.spec) and monitoring_mode(deployment.spec) == "managed":
        from slm_deploy.render.monitoring.azure import prometheus_rule_groups  # noqa: PLC0415
        groups = prometheus_rule_groups(m, deployment.spec.monitoring.scrape_interval_seconds)
        files[f"{ROOT}/azure/prometheus-rule-groups.json"] = to_json(groups)
    everything = {a.name: a for p in platforms(deployment) for a in alerts(m, p)}
    files[f"{ROOT}/RUNBOOKS.md"] = render_template("monitoring/RUNBOOKS.md.j2", deployment=m.name,
                                                    alerts=sorted(everything.values(), key=lambda a: a.name),
                                                    not_raised=not_raised(m))
    return files


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
