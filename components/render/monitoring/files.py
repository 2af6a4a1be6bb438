"""The files of a monitored bundle's monitoring/ folder: rules and their promtool tests, Prometheus, Alertmanager,
Grafana and log pipeline configuration for Compose. Loaded only for a deployment that is monitored."""

from __future__ import annotations

from slm_deploy.render.monitoring.alertmanager import alertmanager_config
from slm_deploy.render.monitoring.bundle import ROOT, platforms
from slm_deploy.render.monitoring.context import Monitored, monitored
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
        # only specs that run Grafana on Compose load its renderer
        from slm_deploy.render.monitoring.grafana import dashboard_provider, datasources, grafana_ini  # noqa: PLC0415

        loki = host("loki") if spec.monitoring.logs else None
        files[f"{ROOT}/grafana/provisioning/datasources/slm-deploy.yaml"] = to_yaml(datasources(host("prometheus"), loki))
        files[f"{ROOT}/grafana/provisioning/dashboards/slm-deploy.yaml"] = to_yaml(dashboard_provider())
        files[f"{ROOT}/grafana/grafana.ini"] = grafana_ini(f"{SECRETS_ROOT}/{spec.monitoring.grafana.admin_password_secret}")
    if spec.monitoring.logs:
        files[f"{ROOT}/loki/loki.yaml"] = to_yaml(loki_config())
        files[f"{ROOT}/alloy/config.alloy"] = alloy_config(m.name, host("loki"))
    return files


def monitored_files(deployment: Deployment, plan: RuntimePlan) -> dict[str, str]:
    """Every file under monitoring/ for a monitored deployment."""
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
