"""The bundled monitoring stack on Kubernetes: our own manifests, which Prometheus, promtool and amtool accept as
mounted, scraping only the deployment's namespace with read-only access, every pod pinned and restricted, and KEDA
pointed at its real Service."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import parse_deployment
from tests.monitoring.bundles import every_bundle
from tests.support import judges
from tests.support.tools import find_executable

DIGEST = "@sha256:"
BUNDLES = [(name, files) for name, files in every_bundle() if "kubernetes/monitoring/kustomization.yaml" in files]
IDS = [name for name, _ in BUNDLES]
SCRAPING = [(name, files) for name, files in BUNDLES if "kubernetes_sd_configs" in files.get(
    next((n for n in files if n.startswith("kubernetes/monitoring/configmap-") and n.endswith("-prometheus.yaml")), ""),
    "")]
"""Bundles whose Prometheus discovers pods (a runtime or gateway with a metrics endpoint)."""
START_TIMEOUT = 60


def stack(files: dict[str, str]) -> list[dict[str, Any]]:
    """The objects of kubernetes/monitoring/, in file order."""
    return [yaml.safe_load(text) for name, text in sorted(files.items())
            if name.startswith("kubernetes/monitoring/") and not name.endswith("kustomization.yaml")]


def of_kind(files: dict[str, str], kind: str, part: str | None = None) -> list[dict[str, Any]]:
    found = [o for o in stack(files) if o["kind"] == kind]
    if part is not None:
        found = [o for o in found if o["metadata"]["name"].endswith(f"-{part}")]
    return found


def mounted(files: dict[str, str], part: str, root: Path) -> Path:
    """Lay out the part's ConfigMap as its pod mounts it (the volume's items, else every key) under `root`."""
    (workload,) = [o for o in stack(files) if o["kind"] in ("StatefulSet", "Deployment")
                   and o["metadata"]["name"].endswith(f"-{part}")]
    (volume,) = [v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"]
    (config_map,) = [o for o in of_kind(files, "ConfigMap") if o["metadata"]["name"] == volume["configMap"]["name"]]
    items = volume["configMap"].get("items") or [{"key": key, "path": key} for key in config_map["data"]]
    for item in items:
        (root / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (root / item["path"]).write_text(config_map["data"][item["key"]], encoding="utf-8")
    return root


def meta_label(name: str) -> str:
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in name)


def discovered_pods(files: dict[str, str]) -> list[dict[str, str]]:
    """What Kubernetes discovery reports for the workloads' pods: one target per container port, with the
    __meta_kubernetes_* labels Prometheus documents, taken from the rendered pod templates."""
    namespace = yaml.safe_load(files["kubernetes/kustomization.yaml"])["namespace"]
    targets = []
    for name, text in sorted(files.items()):
        workload = yaml.safe_load(text) if name.count("/") == 1 and name.startswith("kubernetes/deployment-") else None
        if workload is None:
            continue
        template = workload["spec"]["template"]
        for container in template["spec"]["containers"]:
            for port in container.get("ports", []):
                labels = {meta_label(k): v for k, v in template["metadata"]["labels"].items()}
                targets.append({**labels, "__meta_kubernetes_namespace": namespace,
                                "__meta_kubernetes_pod_name": f"{workload['metadata']['name']}-0",
                                "__meta_kubernetes_pod_container_name": container["name"],
                                "__meta_kubernetes_pod_container_port_name": port["name"],
                                "__address__": f"10.0.0.{len(targets) + 1}:{port['containerPort']}"})
    return targets


def with_discovery_as_static(config_file: Path, files: dict[str, str]) -> Path:
    """The rendered configuration with each kubernetes_sd block replaced by the targets discovery would report:
    Debian's Prometheus is built without Kubernetes discovery, so this runs everything else of the file (the keep
    rules, the labels, rules and Alertmanager) in the real program; the pinned image brings the discovery."""
    config = yaml.safe_load(config_file.read_text())
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": [t["__address__"]],
                                      "labels": {k: v for k, v in t.items() if k != "__address__"}}
                                     for t in discovered_pods(files)]
    out = config_file.with_name("prometheus-static.yml")
    out.write_text(yaml.safe_dump(config), encoding="utf-8")
    return out


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_promtool_and_amtool_accept_the_configuration_as_mounted(name: str, files: dict[str, str],
                                                                  tmp_path: Path) -> None:
    prometheus = mounted(files, "prometheus", tmp_path / "prometheus")
    assert judges.promtool_check_config(with_discovery_as_static(prometheus / "prometheus.yml", files)) == []
    alertmanager = mounted(files, "alertmanager", tmp_path / "alertmanager")
    assert judges.amtool_check_config(alertmanager / "alertmanager.yml") == []


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_prometheus_loads_the_rule_file_whose_promtool_tests_pass(name: str, files: dict[str, str],
                                                                  tmp_path: Path) -> None:
    rules = mounted(files, "prometheus", tmp_path) / "rules"
    (loaded,) = rules.glob("*.rules.yml")
    assert loaded.read_text() == files[f"monitoring/prometheus/rules/{loaded.name}"]
    assert f"monitoring/prometheus/tests/{loaded.name.removesuffix('.rules.yml')}.test.yml" in files


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def targets_once_synced(port: int, jobs: int, deadline: float) -> list[dict[str, Any]]:
    """The active targets, once the scrape manager has taken every job's (it syncs every few seconds)."""
    while True:
        active = api(port, "/api/v1/targets?state=active")["data"]["activeTargets"]
        if len({t["labels"]["job"] for t in active}) >= jobs or time.monotonic() > deadline:
            return active
        time.sleep(0.5)


@pytest.mark.parametrize(("name", "files"), SCRAPING[:2], ids=[name for name, _ in SCRAPING[:2]])
def test_prometheus_keeps_exactly_each_services_pods_labelled_and_loads_every_rule_group(
        name: str, files: dict[str, str], tmp_path: Path) -> None:
    """Debian's Prometheus started on the mounted files, discovery standing in as static targets: each job keeps
    only its service's pods on its metrics port, labelled like the Compose series, and every rule group loads."""
    config = mounted(files, "prometheus", tmp_path / "config")
    port = free_port()
    binary = find_executable("prometheus", "apt-get install prometheus")
    process = subprocess.Popen([binary, f"--config.file={with_discovery_as_static(config / 'prometheus.yml', files)}",
                                f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                groups = api(port, "/api/v1/rules")["data"]["groups"]
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "Prometheus did not answer"
                time.sleep(0.5)
        (rule_file,) = (config / "rules").glob("*.rules.yml")
        assert sorted(g["name"] for g in groups) == sorted(
            g["name"] for g in yaml.safe_load(rule_file.read_text())["groups"])
        jobs = [j for j in yaml.safe_load((config / "prometheus.yml").read_text())["scrape_configs"]
                if "kubernetes_sd_configs" in j]
        assert jobs
        active = targets_once_synced(port, len(jobs) + 1, deadline)  # the discovered jobs and kube-state-metrics
    finally:
        process.terminate()
        process.wait(timeout=30)
    for job in jobs:
        kept = [t["labels"] for t in active if t["labels"]["job"] == job["job_name"]]
        assert len(kept) == 1, (job["job_name"], kept)
        (labels,) = kept
        assert labels["pod"].startswith(job["job_name"]) and labels["namespace"]
        assert {"deployment", "runtime", "component", "model", "container"} <= set(labels)
        assert labels["component"] == ("gateway" if job["job_name"].endswith("-gateway") else "runtime")


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_prometheus_discovers_only_the_deployments_namespace_with_read_only_access(name: str,
                                                                                    files: dict[str, str]) -> None:
    workloads_namespace = yaml.safe_load(files["kubernetes/kustomization.yaml"])["namespace"]
    config = yaml.safe_load(of_kind(files, "ConfigMap", "prometheus")[0]["data"]["prometheus.yml"])
    discovered = [sd for job in config["scrape_configs"] for sd in job.get("kubernetes_sd_configs", [])]
    assert all(sd == {"role": "pod", "namespaces": {"names": [workloads_namespace]}} for sd in discovered)
    assert "kube-state-metrics" in {job["job_name"] for job in config["scrape_configs"]}
    with_workloads = [yaml.safe_load(text) for path, text in files.items() if path.count("/") == 1
                      and path.startswith(("kubernetes/role-", "kubernetes/rolebinding-"))]
    (role,) = [o for o in with_workloads if o["kind"] == "Role"]
    (binding,) = [o for o in with_workloads if o["kind"] == "RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == workloads_namespace
    assert {v for rule in role["rules"] for v in rule["verbs"]} <= {"get", "list", "watch"}
    assert {r for rule in role["rules"] for r in rule["resources"]} == {"pods", "jobs"}
    monitoring_namespace = of_kind(files, "Namespace")[0]["metadata"]["name"]
    readers = {s["name"] for s in binding["subjects"] if s["namespace"] == monitoring_namespace}
    assert readers == {a["metadata"]["name"] for a in of_kind(files, "ServiceAccount")
                       if a["metadata"]["name"].endswith(("-prometheus", "-kube-state-metrics"))}
    assert not of_kind(files, "ClusterRole") and not of_kind(files, "ClusterRoleBinding")


@pytest.mark.parametrize(("name", "files"), BUNDLES, ids=IDS)
def test_every_pod_of_the_stack_is_pinned_restricted_and_only_readers_hold_a_token(name: str,
                                                                                   files: dict[str, str]) -> None:
    (namespace,) = of_kind(files, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    workloads = [o for o in stack(files) if o["kind"] in ("StatefulSet", "Deployment")]
    assert {w["metadata"]["name"].split("-", 2)[-1] for w in workloads} >= {"prometheus", "alertmanager"}
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert DIGEST in container["image"] and container["imagePullPolicy"] == "Always"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        tokens = [v for v in pod["volumes"] if any("serviceAccountToken" in s for s in v.get("projected", {})
                                                   .get("sources", []))]
        reads_api = workload["metadata"]["name"].endswith(("-prometheus", "-kube-state-metrics"))
        assert bool(tokens) == reads_api, workload["metadata"]["name"]
    denied = [p for p in of_kind(files, "NetworkPolicy") if p["spec"]["podSelector"] == {}
              and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}]
    assert denied and of_kind(files, "ResourceQuota") and of_kind(files, "LimitRange")


def test_keda_queries_the_bundled_prometheus_at_its_service_and_may_reach_it() -> None:
    spec = {"name": "scaled", "model": {"id": "qwen3-1.7b", "context_length": 4096}, "runtime": {"kind": "llamacpp"},
            "resources": {"cpu": 4}, "serving": {"autoscaling": {"enabled": True, "min_replicas": 1,
                                                                  "max_replicas": 3}},
            "targets": {"docker": {"registry": "registry.example.com"},
                        "kubernetes": {"namespace": "scaled", "monitoring_namespace": "watch"}},
            "secrets": {"api-keys": {"backend": "kubernetes"}}}
    files = render_bundle(parse_deployment(spec)).files
    (scaled,) = [yaml.safe_load(t) for n, t in files.items() if n.startswith("kubernetes/scaledobject-")]
    address = scaled["spec"]["triggers"][0]["metadata"]["serverAddress"]
    (service,) = of_kind(files, "Service", "prometheus")
    port = service["spec"]["ports"][0]["port"]
    assert address == f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port}"
    assert service["metadata"]["namespace"] == "watch"
    (ingress,) = of_kind(files, "NetworkPolicy", "prometheus-ingress")
    peers = [peer for rule in ingress["spec"]["ingress"] for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers


def test_existing_mode_renders_no_stack_and_keeps_its_monitors() -> None:
    spec = {"name": "watched", "model": {"id": "qwen3-1.7b", "context_length": 4096}, "runtime": {"kind": "llamacpp"},
            "resources": {"cpu": 4}, "monitoring": {"mode": "existing"}, "secrets": {"api-keys": {"backend": "kubernetes"}},
            "targets": {"docker": {"registry": "registry.example.com"}, "kubernetes": {}}}
    files = render_bundle(parse_deployment(spec)).files
    assert not [n for n in files if n.startswith("kubernetes/monitoring/")]
    kinds = {yaml.safe_load(t)["kind"] for n, t in files.items() if n.startswith("kubernetes/") and "/" not in n[11:]}
    assert {"PodMonitor", "PrometheusRule"} <= kinds


def test_kustomize_builds_the_stack_and_keeps_the_readers_in_the_monitoring_namespace(tmp_path: Path) -> None:
    name, files = BUNDLES[0]
    for path, text in files.items():
        if path.startswith("kubernetes/"):
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text, encoding="utf-8")
    built = judges.kustomize_build(tmp_path / "kubernetes" / "monitoring")
    assert sorted((o["kind"], o["metadata"]["name"]) for o in built) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in stack(files))
    (binding,) = [o for o in judges.kustomize_build(tmp_path / "kubernetes") if o["kind"] == "RoleBinding"]
    monitoring_namespace = of_kind(files, "Namespace")[0]["metadata"]["name"]
    assert {s["namespace"] for s in binding["subjects"]} == {monitoring_namespace}  # not rewritten to the workloads'


@pytest.mark.parametrize("version", ["1.30", "1.34"])
def test_the_stack_with_grafana_and_a_receiver_validates_strictly_and_passes_the_pack(tmp_path: Path,
                                                                                     version: str) -> None:
    from slm_deploy.policies import check_bundle
    from slm_deploy.render.writer import write_bundle
    from tests.secret_stores.cases import CASES

    bundle = tmp_path / "bundle"
    rendered = render_bundle(parse_deployment(CASES["kubernetes-monitoring"]))
    write_bundle(rendered, bundle)
    files = rendered.files
    assert of_kind(files, "StatefulSet", "grafana") and of_kind(files, "NetworkPolicy", "alertmanager-egress")
    findings = judges.kubernetes_validate([bundle / "kubernetes" / "monitoring"], version)
    assert findings == [], judges.describe(findings)
    report = check_bundle(bundle)
    assert list(report.findings) == [] and all(f"kubernetes/monitoring/{n}" in report.checked
                                         for n in (p.name for p in (bundle / "kubernetes" / "monitoring").glob("*"))
                                         if n != "kustomization.yaml")
    grafana = mounted(files, "grafana", tmp_path / "grafana")
    sources = yaml.safe_load((grafana / "provisioning" / "datasources" / "slm-deploy.yaml").read_text())
    (service,) = of_kind(files, "Service", "prometheus")
    assert sources["datasources"][0]["url"] == (f"http://{service['metadata']['name']}."
                                                f"{service['metadata']['namespace']}.svc:9090")


def test_the_longest_deployment_name_leaves_every_statefulset_room_for_its_revision_hash(tmp_path: Path) -> None:
    """Pods of a StatefulSet carry controller-revision-hash=<name>-<10-character hash>, a label of 63 at most: every
    part's name stays within 52, and each part still finds its ServiceAccount, Service and ConfigMap by name."""
    from slm_deploy.policies import check_bundle
    from slm_deploy.render.writer import write_bundle
    from tests.secret_stores.cases import CASES

    longest = "a" * 39 + "b"
    rendered = render_bundle(parse_deployment({**CASES["kubernetes-monitoring"], "name": longest}))
    files = rendered.files
    sets = of_kind(files, "StatefulSet")
    assert {s["metadata"]["name"].rsplit("-", 1)[-1] for s in sets} == {"prometheus", "alertmanager", "grafana"}
    for workload in sets:
        name = workload["metadata"]["name"]
        assert len(name) <= 52 and len(f"{name}-{'f' * 10}") <= 63, name
        assert workload["spec"]["serviceName"] in {o["metadata"]["name"] for o in of_kind(files, "Service")}
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in {o["metadata"]["name"] for o in of_kind(files, "ServiceAccount")}
        maps = {o["metadata"]["name"] for o in of_kind(files, "ConfigMap")}
        assert all(v["configMap"]["name"] in maps for v in pod["volumes"] if "configMap" in v)
    names = [(o["kind"], o["metadata"]["name"]) for o in stack(files)]
    assert len(names) == len(set(names))
    write_bundle(rendered, tmp_path / "bundle")
    assert list(check_bundle(tmp_path / "bundle").findings) == []


def test_the_readme_tells_the_steps_and_paths_the_stack_really_uses() -> None:
    """The namespace exists once the stack is applied, so the Secrets come after; Grafana's Service is the one the
    port-forward names, and every secret is read where the ConfigMaps point (/run/secrets/<name>, `$__file{}`)."""
    from tests.secret_stores.cases import CASES

    files = render_bundle(parse_deployment({**CASES["kubernetes-monitoring"], "name": "a" * 39 + "b"})).files
    readme = " ".join(files["README.md"].split())
    (namespace,) = of_kind(files, "Namespace")
    assert readme.index("kubectl apply -k kubernetes/monitoring") < readme.index(
        f"Then create the Secrets grafana-admin-password, oncall-token in `{namespace['metadata']['name']}`")
    (grafana,) = of_kind(files, "Service", "grafana")
    assert f"svc/{grafana['metadata']['name']} 3000" in readme
    (ini,) = [o["data"]["grafana.ini"] for o in of_kind(files, "ConfigMap") if "grafana.ini" in o.get("data", {})]
    assert "$__file{/run/secrets/grafana-admin-password}" in ini and "`$__file{}` in its grafana.ini" in readme
    (alertmanager,) = [o["data"]["alertmanager.yml"] for o in of_kind(files, "ConfigMap")
                       if "alertmanager.yml" in o.get("data", {})]
    assert "/run/secrets/oncall-token" in alertmanager and "credentials from /run/secrets/<name>" in readme
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" not in readme
