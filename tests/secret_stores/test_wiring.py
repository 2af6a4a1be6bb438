"""Every consumer's wiring of every secret purpose, for every backend: the file each program reads, the pod
volume behind /run/secrets, and the store object that fills it; never an environment value."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.compose import render_compose
from slm_deploy.render.kubernetes.objects import render_kubernetes
from slm_deploy.render.kubernetes.secret_sources import CSI_DRIVER, provider_class_name
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.secret_uses import MONITORING_CONSUMERS, backend_of, remote_key, secret_uses
from tests.secret_stores.cases import CASES, case

ROLE_OF_CONSUMER = {"gateway": "gateway", "model-prep": "model-prep", "ui": "ui"}
"""Consumers that run as pods of the deployment; Grafana and Alertmanager run in the bundled monitoring stack's."""
PATH_ENV = {"model-hub-token": "HF_TOKEN_PATH"}
"""Purposes whose consumer learns the file's path from an environment variable."""


def pod_of(objects: list[dict[str, Any]], service_name: str) -> dict[str, Any]:
    """The pod spec of the workload (Deployment or Job) that runs one planned service."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            if obj["metadata"]["name"] == service_name or (
                    obj["kind"] == "Job" and labels.get("app.kubernetes.io/component") == "model-prep"
                    and service_name.endswith("-model-prep")):
                return obj["spec"]["template"]["spec"]
    raise AssertionError(f"no workload runs {service_name}")


def wiring(name: str) -> list[tuple[str, Any, Any]]:
    """(case, use, service) for every secret use of a case."""
    deployment = case(name)
    plan = plan_deployment(deployment)
    found = []
    for use in secret_uses(deployment.spec):
        if use.consumer in MONITORING_CONSUMERS:
            continue
        (service,) = [s for s in plan.services if s.role == ROLE_OF_CONSUMER[use.consumer]]
        found.append((name, use, service))
    return found


WIRING = [w for name in CASES for w in wiring(name)]


@pytest.mark.parametrize(("name", "use", "service"), WIRING,
                         ids=[f"{n}:{u.consumer}:{u.purpose.value}" for n, u, _ in WIRING])
def test_the_consumer_reads_its_secret_as_a_file_from_the_backend_the_spec_names(name, use, service) -> None:
    deployment = case(name)
    spec = deployment.spec
    path = f"/run/secrets/{use.secret}"
    (mounted,) = [f for f in service.secret_files if f.secret == use.secret]
    assert mounted.path == path
    env = dict(service.env)
    if use.purpose.value in PATH_ENV:
        assert env[PATH_ENV[use.purpose.value]] == path
    objects = render_kubernetes(deployment, plan_deployment(deployment))
    pod = pod_of(objects, service.name)
    (container,) = [c for c in [*pod.get("initContainers", []), *pod["containers"]] if {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True}
                    in c.get("volumeMounts", [])]
    assert all("valueFrom" not in e for e in container.get("env", []))
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    backend = backend_of(spec, use.secret)
    if backend == "azure-key-vault":
        assert volume["csi"] == {"driver": CSI_DRIVER, "readOnly": True,
                                 "volumeAttributes": {"secretProviderClass": provider_class_name(service)}}
        (spc,) = [o for o in objects if o["kind"] == "SecretProviderClass"
                  and o["metadata"]["name"] == provider_class_name(service)]
        params = spc["spec"]["parameters"]
        assert params["keyvaultName"] == spec.secrets[use.secret].vault
        assert params["tenantId"] == spec.secret_stores.azure_key_vaults[params["keyvaultName"]].tenant_id
        entries = [yaml.safe_load(item) for item in yaml.safe_load(params["objects"])["array"]]
        assert {"objectName": remote_key(spec, use.secret), "objectType": "secret",
                "objectAlias": use.secret} in entries
        assert sorted(e["objectAlias"] for e in entries) == sorted({f.secret for f in service.secret_files})
    else:
        sources = volume["projected"]["sources"]
        assert {"secret": {"name": use.secret, "items": [{"key": use.secret, "path": use.secret}]}} in sources
        assert volume["projected"]["defaultMode"] == 0o440
        made_by = [o for o in objects if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == use.secret]
        assert len(made_by) == (1 if backend == "external-secrets" else 0)
        if made_by:
            (item,) = made_by[0]["spec"]["data"]
            assert item["secretKey"] == use.secret and item["remoteRef"]["key"] == remote_key(spec, use.secret)
            assert made_by[0]["spec"]["target"]["name"] == use.secret


@pytest.mark.parametrize(("name", "use", "service"), WIRING,
                         ids=[f"{n}:{u.consumer}:{u.purpose.value}" for n, u, _ in WIRING])
def test_compose_mounts_the_same_secret_from_its_file(name, use, service) -> None:
    deployment = case(name)
    plan = plan_deployment(deployment)
    project = render_compose(deployment, plan)
    body = project["services"][service.name]
    assert {"source": use.secret, "target": use.secret} in body["secrets"]
    assert project["secrets"][use.secret] == {"file": f"./secrets/{use.secret}"}
    environment = body.get("environment", {})
    assert all(str(v) == f"/run/secrets/{use.secret}" for v in environment.values() if use.secret in str(v))


MONITORING_WIRING = [(name, use) for name in CASES for use in secret_uses(case(name).spec)
                     if use.consumer in MONITORING_CONSUMERS]


@pytest.mark.parametrize(("name", "use"), MONITORING_WIRING,
                         ids=[f"{n}:{u.consumer}:{u.purpose.value}" for n, u in MONITORING_WIRING])
def test_grafana_and_alertmanager_read_their_secret_as_a_file_from_the_monitoring_namespace(name, use) -> None:
    deployment = case(name)
    files = render_bundle(deployment).files
    (workload,) = [yaml.safe_load(text) for path, text in files.items()
                   if path.startswith("kubernetes/monitoring/statefulset-") and path.endswith(f"-{use.consumer}.yaml")]
    pod = workload["spec"]["template"]["spec"]
    assert workload["metadata"]["namespace"] == "monitoring"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    assert {"secret": {"name": use.secret, "items": [{"key": use.secret, "path": use.secret}]}} in \
        volume["projected"]["sources"] and volume["projected"]["defaultMode"] == 0o440
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "secrets"]
    assert mount == {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True}
    (config,) = [yaml.safe_load(text)["data"] for path, text in files.items()
                 if path == f"kubernetes/monitoring/configmap-{workload['metadata']['name']}.yaml"]
    read = config["grafana.ini"] if use.consumer == "grafana" else config["alertmanager.yml"]
    assert f"/run/secrets/{use.secret}" in read  # grafana.ini's $__file{}, or the receiver's *_file
    assert "env" not in pod["containers"][0] or all("valueFrom" not in e for e in pod["containers"][0]["env"])
    assert backend_of(deployment.spec, use.secret) == "kubernetes"
    assert f"kubectl create secret generic {use.secret} -n monitoring" in files["README.md"]
    objects = render_kubernetes(deployment, plan_deployment(deployment))
    assert not [o for o in objects if o["metadata"]["name"] == use.secret], "nothing of it in the deployment's namespace"


def test_the_gateway_config_and_the_webui_entrypoint_name_the_mounted_files() -> None:
    files = render_bundle(case("kubernetes-webui")).files
    gateway_config = next(text for path, text in files.items() if path.startswith("docker/") and "gateway" in path
                          and path.endswith((".yaml", ".json", ".toml")) and "/run/secrets/api-keys" in text)
    assert gateway_config
    entrypoint = next(text for path, text in files.items() if "/run/secrets/webui-secret-key" in text
                      and path.startswith(("docker/", "kubernetes/configmap")))
    assert "/run/secrets/webui-api-key" in entrypoint


def test_no_rendered_object_reads_a_secret_through_the_environment() -> None:
    for name in CASES:
        for path, text in render_bundle(case(name)).files.items():
            assert "secretKeyRef" not in text and "secretRef:" not in text, (name, path)
