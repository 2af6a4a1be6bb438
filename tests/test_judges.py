"""The independent judges catch known-bad inputs and accept known-good ones, so a clean verdict means something."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support import judges

PINNED_BASE = "debian:12.11-slim@sha256:" + "0123456789abcdef" * 4

HARDENED_DOCKERFILE = f"""\
FROM {PINNED_BASE}
RUN groupadd --system --gid 10001 app \\
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --chown=10001:10001 server.py /app/server.py
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["python3", "/app/server.py", "--check"]
ENTRYPOINT ["python3", "/app/server.py"]
"""

ROOT_LATEST_DOCKERFILE = """\
FROM python:latest
USER root
ADD server.py /app/server.py
CMD python3 /app/server.py
"""

HARDENED_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "serving"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "runAsGroup": 10001,
                    "fsGroup": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "web",
                        "image": "registry.example/web:1.0@sha256:" + "0123456789abcdef" * 4,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True,
                            "runAsUser": 10001,
                            "runAsGroup": 10001,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "256Mi"},
                        },
                    }
                ],
            },
        },
    },
}

HARDENED_COMPOSE = {
    "services": {
        "web": {
            "image": "registry.example/web:1.0@sha256:" + "0123456789abcdef" * 4,
            "user": "10001:10001",
            "read_only": True,
            "tmpfs": ["/tmp"],
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "pids_limit": 256,
            "init": True,
            "ports": ["127.0.0.1:8080:8080"],
            "healthcheck": {"test": ["CMD", "python3", "/app/server.py", "--check"], "interval": "30s"},
            "restart": "on-failure",
            "networks": ["backend"],
            "secrets": ["hf_token"],
        }
    },
    "networks": {"backend": {"internal": True}},
    "secrets": {"hf_token": {"file": "./secrets/hf_token"}},
}


def write(path: Path, text: str) -> Path:
    """Create a fixture file, with its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def rules(findings: list[judges.Finding]) -> set[str]:
    """The rule ids a judge reported."""
    return {finding.rule for finding in findings}


def deployment_with(mutate) -> dict:
    """A copy of the hardened Deployment changed by one mutation."""
    document = copy.deepcopy(HARDENED_DEPLOYMENT)
    mutate(document)
    return document


def container(document: dict) -> dict:
    """The first container of a Deployment."""
    return document["spec"]["template"]["spec"]["containers"][0]


# --- hadolint ---------------------------------------------------------------------------------


def test_hadolint_accepts_a_hardened_dockerfile(tmp_path):
    dockerfile = write(tmp_path / "Dockerfile", HARDENED_DOCKERFILE)
    findings = judges.hadolint(dockerfile)
    assert findings == [], judges.describe(findings)


def test_hadolint_flags_latest_tag_root_user_and_shell_form(tmp_path):
    dockerfile = write(tmp_path / "Dockerfile", ROOT_LATEST_DOCKERFILE)
    findings = judges.hadolint(dockerfile)
    assert {"DL3007", "DL3002", "DL3020", "DL3025"} <= rules(findings), judges.describe(findings)
    assert {finding.line for finding in findings if finding.rule == "DL3007"} == {1}
    assert all(finding.severity in ("warning", "error") for finding in findings)


def test_hadolint_ignores_exemptions_the_linted_folder_tries_to_grant(tmp_path):
    write(tmp_path / ".hadolint.yaml", "ignored: [DL3007, DL3002, DL3020, DL3025]\n")
    dockerfile = write(tmp_path / "Dockerfile", "# hadolint ignore=DL3007\n" + ROOT_LATEST_DOCKERFILE)
    assert {"DL3007", "DL3002"} <= rules(judges.hadolint(dockerfile))
    assert "DL3007" not in rules(judges.hadolint(dockerfile, honour_ignore_pragmas=True))


# --- Trivy ------------------------------------------------------------------------------------


def test_trivy_accepts_a_hardened_dockerfile_and_deployment(tmp_path):
    write(tmp_path / "docker" / "web" / "Dockerfile", HARDENED_DOCKERFILE)
    write(tmp_path / "kubernetes" / "deployment-web.yaml", yaml.safe_dump(HARDENED_DEPLOYMENT))
    findings = judges.trivy_config(tmp_path)
    assert findings == [], judges.describe(findings)


def test_trivy_flags_a_root_dockerfile_by_file(tmp_path):
    dockerfile = write(tmp_path / "docker" / "web" / "Dockerfile", ROOT_LATEST_DOCKERFILE)
    findings = judges.trivy_config(tmp_path)
    assert "AVD-DS-0002" in rules(findings), judges.describe(findings)
    assert {finding.file for finding in findings} == {str(dockerfile.resolve())}
    assert {finding.severity for finding in findings} <= {"high", "critical"}


@pytest.mark.parametrize(
    ("mutation", "expected_rule"),
    [
        (lambda d: container(d)["securityContext"].update(privileged=True), "AVD-KSV-0017"),
        (lambda d: container(d)["securityContext"].update(readOnlyRootFilesystem=False), "AVD-KSV-0014"),
        (lambda d: d["spec"]["template"]["spec"].update(hostNetwork=True), "AVD-KSV-0009"),
    ],
    ids=["privileged", "writable-root", "host-network"],
)
def test_trivy_flags_each_unsafe_pod_setting(tmp_path, mutation, expected_rule):
    manifest = write(tmp_path / "deployment.yaml", yaml.safe_dump(deployment_with(mutation)))
    findings = judges.trivy_config(tmp_path)
    assert expected_rule in rules(findings), judges.describe(findings)
    assert all(finding.file == str(manifest.resolve()) for finding in findings)


def test_trivy_scans_a_single_file(tmp_path):
    dockerfile = write(tmp_path / "Dockerfile", ROOT_LATEST_DOCKERFILE)
    assert "AVD-DS-0002" in rules(judges.trivy_config(dockerfile))


# --- Compose ----------------------------------------------------------------------------------


def compose_project(root: Path, document: dict) -> Path:
    """A compose project folder with the secret file its compose.yaml names."""
    write(root / "secrets" / "hf_token", "not-a-real-token\n")
    write(root / "compose.yaml", yaml.safe_dump(document, sort_keys=False))
    return root


def test_compose_schema_accepts_a_hardened_project(tmp_path):
    project = compose_project(tmp_path, HARDENED_COMPOSE)
    findings = judges.compose_schema(project / "compose.yaml")
    assert findings == [], judges.describe(findings)


def test_compose_schema_rejects_an_unknown_service_key(tmp_path):
    document = copy.deepcopy(HARDENED_COMPOSE)
    document["services"]["web"]["read_only_root"] = True
    project = compose_project(tmp_path, document)
    findings = judges.compose_schema(project / "compose.yaml")
    assert [finding.rule for finding in findings] == ["$.services.web"]
    assert "read_only_root" in findings[0].message


def test_compose_schema_rejects_a_wrongly_typed_value(tmp_path):
    document = copy.deepcopy(HARDENED_COMPOSE)
    document["services"]["web"]["cap_drop"] = "ALL"
    project = compose_project(tmp_path, document)
    assert "$.services.web.cap_drop" in rules(judges.compose_schema(project / "compose.yaml"))


def test_docker_compose_accepts_a_hardened_project(tmp_path):
    project = compose_project(tmp_path, HARDENED_COMPOSE)
    findings = judges.compose_config(project)
    assert findings == [], judges.describe(findings)


def test_docker_compose_rejects_an_unknown_service_key(tmp_path):
    document = copy.deepcopy(HARDENED_COMPOSE)
    document["services"]["web"]["read_only_root"] = True
    findings = judges.compose_config(compose_project(tmp_path, document))
    assert [finding.severity for finding in findings] == ["error"]
    assert "read_only_root" in findings[0].message


def test_docker_compose_rejects_the_top_level_name_key_it_predates(tmp_path):
    document = {"name": "demo", **HARDENED_COMPOSE}
    findings = judges.compose_config(compose_project(tmp_path, document))
    assert "name" in findings[0].message and findings[0].severity == "error"


# --- Kubernetes -------------------------------------------------------------------------------

KUBERNETES_VERSIONS = ("1.30", "1.34")


def test_kubernetes_validate_ships_the_versions_the_project_targets():
    assert set(KUBERNETES_VERSIONS) <= set(judges.supported_kubernetes_versions())


@pytest.mark.parametrize("k8s_version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_accepts_a_hardened_deployment(tmp_path, k8s_version):
    manifest = write(tmp_path / "deployment.yaml", yaml.safe_dump(HARDENED_DEPLOYMENT))
    findings = judges.kubernetes_validate([manifest], k8s_version)
    assert findings == [], judges.describe(findings)


@pytest.mark.parametrize("k8s_version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_rejects_an_unknown_field(tmp_path, k8s_version):
    document = deployment_with(lambda d: container(d).update(imagePullPolicyy="Always"))
    manifest = write(tmp_path / "deployment.yaml", yaml.safe_dump(document))
    findings = judges.kubernetes_validate([manifest], k8s_version)
    assert len(findings) == 1, judges.describe(findings)
    assert findings[0].rule == "spec.template.spec.containers.0"
    assert "imagePullPolicyy" in findings[0].message


@pytest.mark.parametrize("k8s_version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_rejects_a_wrongly_typed_field(tmp_path, k8s_version):
    document = deployment_with(lambda d: d["spec"].update(replicas="two"))
    manifest = write(tmp_path / "deployment.yaml", yaml.safe_dump(document))
    assert rules(judges.kubernetes_validate([manifest], k8s_version)) == {"spec.replicas"}


def test_kubernetes_validate_rejects_an_api_version_without_schema(tmp_path):
    document = deployment_with(lambda d: d.update(apiVersion="apps/v2"))
    manifest = write(tmp_path / "deployment.yaml", yaml.safe_dump(document))
    assert rules(judges.kubernetes_validate([manifest], "1.34")) == {"no-schema"}


def test_kubernetes_validate_skips_declared_custom_kinds_and_kustomization(tmp_path):
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"name": "web"}},
    }
    write(tmp_path / "scaledobject-web.yaml", yaml.safe_dump(scaled_object))
    write(tmp_path / "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
    assert rules(judges.kubernetes_validate([tmp_path], "1.34")) == {"no-schema"}
    assert judges.kubernetes_validate([tmp_path], "1.34", custom_kinds={"keda.sh/v1alpha1/ScaledObject"}) == []


def test_kubernetes_validate_reads_every_document_of_a_file(tmp_path):
    broken = deployment_with(lambda d: d["metadata"].update(name="broken", labelz={"a": "b"}))
    manifest = write(tmp_path / "all.yaml", yaml.safe_dump_all([HARDENED_DEPLOYMENT, broken]))
    findings = judges.kubernetes_validate([manifest], "1.30")
    assert [finding.message.split(":")[0] for finding in findings] == ["Deployment/broken (document 1)"]


def test_kubernetes_validate_refuses_a_version_it_has_no_schemas_for(tmp_path):
    with pytest.raises(ValueError, match="1.10"):
        judges.kubernetes_validate([tmp_path], "1.10")


def test_kustomize_builds_a_folder_and_applies_its_namespace(tmp_path):
    write(tmp_path / "deployment-web.yaml", yaml.safe_dump(HARDENED_DEPLOYMENT))
    write(tmp_path / "kustomization.yaml", "resources:\n  - deployment-web.yaml\nnamespace: models\n")
    objects = judges.kustomize_build(tmp_path)
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects] == [("Deployment", "web", "models")]
    assert container(objects[0]) == container(HARDENED_DEPLOYMENT)


def test_kustomize_rejects_a_folder_naming_a_missing_resource(tmp_path):
    write(tmp_path / "kustomization.yaml", "resources:\n  - service-web.yaml\n")
    with pytest.raises(judges.JudgeRejected, match="service-web.yaml"):
        judges.kustomize_build(tmp_path)


# --- Prometheus and Alertmanager ----------------------------------------------------------------

RULES = """\
groups:
  - name: serving
    rules:
      - record: job:requests:rate5m
        expr: sum by (job) (rate(requests_total[5m]))
      - alert: ModelServerDown
        expr: up{job="model"} == 0
        for: 5m
        labels: {severity: page}
        annotations: {summary: "model server {{ $labels.instance }} is down"}
"""

RULE_TEST = """\
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="model", instance="a"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: ModelServerDown
        exp_alerts:
          - exp_labels: {severity: page, job: model, instance: a}
            exp_annotations: {summary: "model server a is down"}
"""


def test_promtool_accepts_a_config_with_its_rules(tmp_path):
    write(tmp_path / "rules.yaml", RULES)
    config = write(tmp_path / "prometheus.yml", "global: {scrape_interval: 15s}\nrule_files: [rules.yaml]\nscrape_configs:\n  - job_name: model\n    static_configs: [{targets: ['model:8080']}]\n")
    findings = judges.promtool_check_config(config)
    assert findings == [], judges.describe(findings)


def test_promtool_rejects_an_unknown_config_field(tmp_path):
    config = write(tmp_path / "prometheus.yml", "global: {scrape_intervall: 15s}\n")
    findings = judges.promtool_check_config(config)
    assert len(findings) == 1 and "scrape_intervall" in findings[0].message


def test_promtool_checks_rule_syntax(tmp_path):
    good = write(tmp_path / "rules.yaml", RULES)
    bad = write(tmp_path / "bad.yaml", RULES.replace("rate(requests_total[5m])", "rate(requests_total[5m]"))
    assert judges.promtool_check_rules([good]) == []
    findings = judges.promtool_check_rules([bad])
    assert len(findings) == 1 and "parse error" in findings[0].message


def test_promtool_rule_tests_pass_and_fail_on_expectations(tmp_path):
    write(tmp_path / "rules.yaml", RULES)
    passing = write(tmp_path / "rules_test.yaml", RULE_TEST)
    failing = write(tmp_path / "rules_wrong_test.yaml", RULE_TEST.replace("severity: page, job", "severity: ticket, job"))
    assert judges.promtool_test_rules([passing]) == []
    findings = judges.promtool_test_rules([failing])
    assert len(findings) == 1 and "ticket" in findings[0].message


def test_amtool_checks_receivers_named_by_routes(tmp_path):
    good = write(tmp_path / "good.yml", "route: {receiver: ops}\nreceivers:\n  - name: ops\n")
    bad = write(tmp_path / "bad.yml", "route: {receiver: pager}\nreceivers:\n  - name: ops\n")
    assert judges.amtool_check_config(good) == []
    findings = judges.amtool_check_config(bad)
    assert len(findings) == 1 and "pager" in findings[0].message


# --- missing tools ------------------------------------------------------------------------------


def test_a_missing_judge_skips_with_its_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SLM_DEPLOY_REQUIRE_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install prometheus-alertmanager"):
        judges.amtool_check_config(tmp_path / "alertmanager.yml")


def test_a_missing_judge_fails_where_ci_requires_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SLM_DEPLOY_REQUIRE_TOOLS", "amtool promtool")
    from tests.support.tools import ToolRequired

    with pytest.raises(ToolRequired, match="amtool"):
        judges.amtool_check_config(tmp_path / "alertmanager.yml")
