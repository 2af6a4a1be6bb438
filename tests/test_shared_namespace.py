"""Several deployments in one namespace are all admissible: the namespace's owner holds its one ResourceQuota and
LimitRange, sized for the sum of the deployments, and custom resources wait for the release installing their CRDs."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from slm_deploy.monitoring_stack import MonitoringStack
from slm_deploy.kubernetes_workloads import KubernetesWorkloads
from slm_deploy.policies import check_bundle
from slm_deploy.policies.bundle import MANIFEST, recorded_config
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.shared_namespace import SharedNamespace, shared_namespace_manifests
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.stack import SlmDeployment
from tests.support import judges
from tests.test_pulumi_components import ComponentMocks, kubernetes_onnx_spec, plain
from tests.test_pulumi_composition import Registrations
from tests.test_readme_program import readme_program

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}
CUSTOM = ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
PINNED_IMAGES = {"phi4-onnx": "r.example/s@sha256:" + "1" * 64, "phi4-onnx-gateway": "r.example/g@sha256:" + "2" * 64,
                 "phi4-onnx-egress-proxy": "r.example/e@sha256:" + "3" * 64}
"""ImageBuilds' output for the ONNX example, as a program that built the images elsewhere passes it."""


def amount(key: str, value: Any) -> float:
    """A Kubernetes quantity as a number: cores for CPU, bytes for memory and storage, else a count."""
    text = str(value)
    if key.endswith("cpu"):
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text).groups()
    return float(number) * UNITS.get(unit, 1)


def pod_demand(pod: dict[str, Any]) -> dict[str, float]:
    """What one pod counts against a quota: the larger of its biggest init container and its containers' sum
    (a GPU is requested as much as it is limited: extended resources cannot be overcommitted)."""
    def summed(containers: Iterable[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for container in containers:
            for side, block in container.get("resources", {}).items():
                for resource, value in block.items():
                    if resource == "nvidia.com/gpu" and side != "limits":
                        continue
                    key = "requests.nvidia.com/gpu" if resource == "nvidia.com/gpu" else f"{side}.{resource}"
                    out[key] = out.get(key, 0) + amount(resource, value)
        return out

    total = summed(pod["containers"])
    for init in pod.get("initContainers", []):
        for key, value in summed([init]).items():
            total[key] = max(total.get(key, 0), value)
    return total


def namespace_demand(objects: list[dict[str, Any]]) -> dict[str, float]:
    """Everything the namespace's objects need at once: each Deployment at its replicas plus its rolling-update
    surge, each Job's pod, each claim and Service."""
    demand: dict[str, float] = {"pods": 0, "services": 0, "persistentvolumeclaims": 0, "requests.storage": 0}
    for obj in objects:
        kind = obj["kind"]
        if kind in ("Deployment", "Job"):
            spec = obj["spec"]
            copies = 1
            if kind == "Deployment":
                surge = spec.get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", 0)
                copies = int(spec.get("replicas", 1)) + int(surge)
            demand["pods"] += copies
            for key, value in pod_demand(spec["template"]["spec"]).items():
                demand[key] = demand.get(key, 0) + value * copies
        elif kind == "Service":
            demand["services"] += 1
        elif kind == "PersistentVolumeClaim":
            demand["persistentvolumeclaims"] += 1
            demand["requests.storage"] += amount("storage", obj["spec"]["resources"]["requests"]["storage"])
    return demand


def run_readme_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ComponentMocks, dict[str, list]]:
    """The README's program under mocks, with the dependencies each resource was registered with."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "phi4.yaml").write_text(yaml.safe_dump(kubernetes_onnx_spec()), encoding="utf-8")
    (tmp_path / "phi4-canary.yaml").write_text(yaml.safe_dump({**kubernetes_onnx_spec(), "name": "phi4-canary"}),
                                               encoding="utf-8")
    source = readme_program()
    return run_recording(lambda: exec(compile(source, "README.md", "exec"), {"__name__": "__main__"}))


def run_recording(program: Callable[[], Any]) -> tuple[ComponentMocks, dict[str, list]]:
    """`program` under mocks, with the dependencies each resource was registered with."""
    mocks, registrations = ComponentMocks(), Registrations()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="models", stack="prod", preview=False)
    registrations.watch()
    dependencies: dict[str, list] = {}
    monitor = pulumi.runtime.settings.get_monitor()
    register = monitor.RegisterResource

    def recording(request):
        dependencies[request.name] = list(request.dependencies)
        return register(request)

    monitor.RegisterResource = recording
    pulumi.runtime.set_all_config({"models:registry": "registry.example.com/team", "models:kubeconfig": "{}",
                                   "models:phi4-api-keys": "a", "models:canary-api-keys": "b"})
    pulumi.runtime.test(program)()
    assert registrations.duplicates() == []
    return mocks, dependencies


def in_namespace(mocks: ComponentMocks, namespace: str) -> list[dict[str, Any]]:
    """The registered objects of one namespace, as manifests (kind from the type token)."""
    out = []
    for r in mocks.resources:
        if r.typ.startswith("kubernetes:") and plain(r.inputs).get("metadata", {}).get("namespace") == namespace:
            out.append({"kind": r.typ.rsplit(":", 1)[1], **plain(r.inputs)})
    return out


def test_the_readme_program_bounds_its_shared_namespace_once_for_both_deployments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_readme_program(tmp_path, monkeypatch)
    objects = in_namespace(mocks, "models")
    quotas = [o for o in objects if o["kind"] == "ResourceQuota"]
    limit_ranges = [o for o in objects if o["kind"] == "LimitRange"]
    assert len(quotas) == 1 and len(limit_ranges) == 1
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert {"phi4-onnx-gateway", "phi4-canary-gateway"} <= names

    demand = namespace_demand(objects)
    hard = quotas[0]["spec"]["hard"]
    assert {"pods", "services", "requests.cpu", "limits.memory", "requests.nvidia.com/gpu"} <= set(hard)
    for key, needed in demand.items():
        if key not in hard:
            continue
        assert amount(key, hard[key]) >= needed, f"{key}: quota {hard[key]} < what both deployments need {needed}"
    assert amount("services.loadbalancers", hard["services.loadbalancers"]) == 0
    # One deployment's own quota would refuse the other's objects: the sum is what makes both admissible.
    alone = next(o for o in shared_single(kubernetes_onnx_spec()) if o["kind"] == "ResourceQuota")["spec"]["hard"]
    assert amount("services", alone["services"]) < demand["services"]

    (ceiling,) = [item for item in limit_ranges[0]["spec"]["limits"] if item["type"] == "Container"]
    containers = [c for o in objects if o["kind"] in ("Deployment", "Job")
                  for c in (*o["spec"]["template"]["spec"]["containers"],
                            *o["spec"]["template"]["spec"].get("initContainers", []))]
    for container in containers:
        for resource in ("cpu", "memory"):
            assert amount(resource, container["resources"]["limits"][resource]) <= amount(resource,
                                                                                          ceiling["max"][resource])
    (namespace,) = [r for r in mocks.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == "models"]
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def shared_single(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return shared_namespace_manifests("models", [spec])


def test_the_readme_program_runs_one_bundled_monitoring_stack_without_a_release_or_crds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first deployment brings its own monitoring stack, in its monitoring namespace, from rendered manifests."""
    mocks, _ = run_readme_program(tmp_path, monkeypatch)
    assert mocks.of_type("kubernetes:helm.sh/v3:Release") == []
    prometheus = [r for r in mocks.of_type("kubernetes:apps/v1:StatefulSet") if r.name.endswith("-prometheus")]
    assert [plain(r.inputs)["metadata"]["namespace"] for r in prometheus] == ["monitoring"]
    assert not [r for typ in CUSTOM for r in mocks.of_type(typ) if r.name.startswith("phi4-k8s-")]


def test_the_readme_programs_bundled_monitoring_watches_the_shared_namespace_its_pods_run_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec names its own namespace, the program places the pods in `models`: Prometheus discovers, reaches and
    kube-state-metrics watches `models`, never the spec's namespace."""
    mocks, _ = run_readme_program(tmp_path, monkeypatch)
    stack = in_namespace(mocks, "monitoring")
    (config,) = [o for o in stack if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "phi4-onnx-prometheus"]
    jobs = yaml.safe_load(config["data"]["prometheus.yml"])["scrape_configs"]
    discovered = [sd["namespaces"]["names"] for job in jobs for sd in job.get("kubernetes_sd_configs", [])]
    assert discovered and all(names == ["models"] for names in discovered)
    (egress,) = [o for o in stack if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "phi4-onnx-prometheus-egress"]
    reached = [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for rule in egress["spec"]["egress"] for peer in rule["to"] if "namespaceSelector" in peer]
    assert reached == ["models"]
    (state,) = [o for o in stack if o["kind"] == "Deployment" and o["metadata"]["name"] == "phi4-onnx-kube-state-metrics"]
    assert "--namespaces=models" in state["spec"]["template"]["spec"]["containers"][0]["args"]
    readers = [o for o in in_namespace(mocks, "models") if o["kind"] == "RoleBinding"
               and o["metadata"]["name"] == "phi4-onnx-monitoring-reader"]
    assert len(readers) == 1


def _refused_for_its_monitoring_namespace(program: Callable[[], None], resident: str) -> None:
    """The program stops: phi4-second's bundled stack would sit where another deployment places `resident`."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(ComponentMocks(), project="p", stack="s", preview=False)
    with pytest.raises(Exception, match=r"phi4-second cannot share its cluster:\n.*targets\.kubernetes\."
                                        r"monitoring_namespace: is where another deployment on the same "
                                        rf"cluster places {re.escape(resident)}"):
        pulumi.runtime.test(program)()


def test_a_second_bundled_monitoring_stack_in_the_same_namespace_is_refused(tmp_path: Path) -> None:
    def program() -> None:
        common = {"build_dir": str(tmp_path), "secret_values": {"secret-api-keys": "k"}}
        SlmDeployment("first", {"spec": kubernetes_onnx_spec(), **common})
        SlmDeployment("second", {"spec": {**kubernetes_onnx_spec(), "name": "phi4-second"}, **common})

    _refused_for_its_monitoring_namespace(program, "the bundled monitoring stack")


def test_a_bundled_stack_where_another_deployments_prometheus_operator_runs_is_refused(tmp_path: Path) -> None:
    def program() -> None:
        common = {"build_dir": str(tmp_path), "secret_values": {"secret-api-keys": "k"}}
        existing = {**kubernetes_onnx_spec(), "monitoring": {"enabled": True, "mode": "existing"}}
        SlmDeployment("first", {"spec": existing, **common})
        SlmDeployment("second", {"spec": {**kubernetes_onnx_spec(), "name": "phi4-second",
                                          "targets": {**kubernetes_onnx_spec()["targets"],
                                                      "kubernetes": {"namespace": "phi4-second"}}}, **common})

    _refused_for_its_monitoring_namespace(program, "the Prometheus that scrapes the deployment")


def test_workloads_placed_in_a_namespace_they_do_not_own_render_no_quota_or_limit_range(tmp_path: Path) -> None:
    def program() -> None:
        KubernetesWorkloads("w", {"spec": kubernetes_onnx_spec(), "namespace": "team", "images": PINNED_IMAGES,
                                  "secret_values": {"secret-api-keys": "k"}})

    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = ComponentMocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    pulumi.runtime.test(program)()
    kinds = {r.typ.rsplit(":", 1)[1] for r in mocks.resources if r.typ.startswith("kubernetes:")}
    assert "Deployment" in kinds and not kinds & {"Namespace", "ResourceQuota", "LimitRange"}


@pytest.mark.parametrize("version", ["1.30", "1.34"])
def test_the_shared_namespace_objects_validate_strictly(tmp_path: Path, version: str) -> None:
    manifests = shared_namespace_manifests("models", [kubernetes_onnx_spec(), {**kubernetes_onnx_spec(), "name": "other"}])
    assert [m["kind"] for m in manifests] == ["Namespace", "ResourceQuota", "LimitRange"]
    (tmp_path / "shared.yaml").write_text(yaml.safe_dump_all(manifests), encoding="utf-8")
    findings = judges.kubernetes_validate([tmp_path], version)
    assert findings == [], judges.describe(findings)


def shared_bundle(tmp_path: Path) -> Path:
    spec = kubernetes_onnx_spec()
    spec["targets"]["kubernetes"] |= {"namespace": "models", "shared_namespace": True}
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(parse_deployment(spec)), bundle)
    return bundle


def test_render_of_a_shared_namespace_spec_leaves_the_namespace_to_its_owner_and_check_passes(tmp_path: Path) -> None:
    bundle = shared_bundle(tmp_path)
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in (bundle / "kubernetes").glob("*.yaml")}
    assert "Deployment" in kinds and not kinds & {"Namespace", "ResourceQuota", "LimitRange"}
    assert "Namespace `models` is shared" in (bundle / "README.md").read_text()
    config = recorded_config(json.loads((bundle / MANIFEST).read_text()))
    assert config["slm-k8s-021"] == {"sharedNamespaces": ["models"]}
    assert [f for f in check_bundle(bundle, config=config).findings] == []
    assert {f.rule for f in check_bundle(bundle).findings} == {"slm-k8s-021"}  # without the record: no quota


def test_check_refuses_a_quota_of_the_bundles_own_in_a_shared_namespace(tmp_path: Path) -> None:
    bundle = shared_bundle(tmp_path)
    config = recorded_config(json.loads((bundle / MANIFEST).read_text()))
    (bundle / "kubernetes" / "resourcequota-extra.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "extra", "namespace": "models"},
         "spec": {"hard": {"pods": "1"}}}), encoding="utf-8")
    messages = [f.message for f in check_bundle(bundle, config=config).findings if f.rule == "slm-k8s-021"]
    assert messages == ["namespace models is shared but this deployment adds a ResourceQuota to it"]


def test_a_namespace_the_program_does_not_own_is_worth_a_warning_and_a_shared_one_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING):
        run_readme_program(tmp_path, monkeypatch)
    assert not [r for r in caplog.records if "is not a SharedNamespace" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        test_workloads_placed_in_a_namespace_they_do_not_own_render_no_quota_or_limit_range(tmp_path)
    assert [r for r in caplog.records if "is not a SharedNamespace" in r.getMessage()]


def canary_spec() -> dict[str, Any]:
    return {**kubernetes_onnx_spec(), "name": "phi4-canary", "monitoring": {"mode": "existing"}}


def workloads(name: str, spec: dict[str, Any], **args: Any) -> KubernetesWorkloads:
    images = {f"{spec['name']}{key[len('phi4-onnx'):]}": ref for key, ref in PINNED_IMAGES.items()}
    return KubernetesWorkloads(name, {"spec": spec, "images": images, "secret_values": {"secret-api-keys": "k"},
                                      **args})


def shared(specs: list[dict[str, Any]], **args: Any) -> SharedNamespace:
    return SharedNamespace("models", {"namespace": "models", "specs": specs, **args})


def placed_in_models(spec: dict[str, Any]) -> dict[str, Any]:
    spec["targets"]["kubernetes"]["namespace"] = "models"
    return spec


@pytest.mark.parametrize("program, message", [
    # a deployment given the shared namespace's output, which the SharedNamespace does not list
    (lambda: workloads("canary", canary_spec(), namespace=shared([kubernetes_onnx_spec()]).namespace),
     r"KubernetesWorkloads 'canary' is placed in the namespace of SharedNamespace 'models', whose args\['specs'\] "
     r"do not list its deployment"),
    # the same, with the deployment first and the namespace named as a plain string
    (lambda: (workloads("canary", canary_spec(), namespace="models"), shared([kubernetes_onnx_spec()])),
     r"KubernetesWorkloads 'canary' is placed in the namespace of SharedNamespace 'models'"),
    # a listed deployment whose spec names the namespace and is not given it: it would create it again
    (lambda: (shared([placed_in_models(canary_spec())]), workloads("canary", placed_in_models(canary_spec()))),
     r"KubernetesWorkloads 'canary' would create the namespace of SharedNamespace 'models' a second time"),
    (lambda: (workloads("canary", placed_in_models(canary_spec())), shared([placed_in_models(canary_spec())])),
     r"would create the namespace of SharedNamespace 'models' a second time"),
])
def test_a_deployment_in_a_shared_namespace_that_does_not_list_it_is_refused(program, message: str) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(ComponentMocks(), project="p", stack="s", preview=False)
    with pytest.raises(Exception, match=message):
        pulumi.runtime.test(program)()


def test_a_namespace_of_the_same_name_on_another_cluster_is_another_namespace() -> None:
    def program() -> None:
        shared([kubernetes_onnx_spec()])
        workloads("canary", placed_in_models(canary_spec()),
                  kubernetes_provider=k8s.Provider("west", kubeconfig="west-kubeconfig"))

    mocks, _ = run_recording(program)
    namespaces = [r.inputs["metadata"]["name"] for r in mocks.of_type("kubernetes:core/v1:Namespace")]
    assert namespaces == ["models", "models"]


def monitored_in(namespace: str) -> dict[str, Any]:
    """A bundled-monitoring deployment whose monitoring stack lives in `namespace`."""
    spec = {**kubernetes_onnx_spec(), "name": "phi4-watched"}
    spec["targets"]["kubernetes"] = {"namespace": "phi4-watched", "monitoring_namespace": namespace}
    return spec


@pytest.mark.parametrize("program, first, second", [
    # two deployments whose specs name one namespace, neither given a SharedNamespace
    (lambda: (workloads("a", placed_in_models(canary_spec())),
              workloads("b", placed_in_models({**canary_spec(), "name": "phi4-other"}))),
     "KubernetesWorkloads 'a'", "KubernetesWorkloads 'b'"),
    # a deployment placed in the namespace another deployment's bundled monitoring stack creates
    (lambda: (MonitoringStack("monitoring", {"spec": monitored_in("models"),
                                                 "secret_values": {"secret-api-keys": "k"}}),
              workloads("w", placed_in_models(canary_spec()))),
     "MonitoringStack 'monitoring'", "KubernetesWorkloads 'w'"),
    # two bundled stacks, each component alone, in one monitoring namespace
    (lambda: (MonitoringStack("a", {"spec": monitored_in("models"), "secret_values": {"secret-api-keys": "k"}}),
              MonitoringStack("b", {"spec": {**monitored_in("models"), "name": "phi4-b"},
                                    "secret_values": {"secret-api-keys": "k"}})),
     "MonitoringStack 'a'", "MonitoringStack 'b'"),
])
def test_two_components_that_would_both_create_one_namespace_are_refused(program, first: str, second: str) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(ComponentMocks(), project="p", stack="s", preview=False)
    with pytest.raises(Exception, match=rf"{re.escape(second)} and {re.escape(first)} would both create the same "
                                        r"namespace on one cluster") as raised:
        pulumi.runtime.test(program)()
    assert "models" not in str(raised.value)  # names the components, never the spec's values


def test_one_namespace_name_created_on_two_clusters_is_two_namespaces() -> None:
    def program() -> None:
        workloads("a", placed_in_models(canary_spec()))
        workloads("b", placed_in_models({**canary_spec(), "name": "phi4-other"}),
                  kubernetes_provider=k8s.Provider("west", kubeconfig="west-kubeconfig"))

    mocks, _ = run_recording(program)
    namespaces = [r.inputs["metadata"]["name"] for r in mocks.of_type("kubernetes:core/v1:Namespace")]
    assert namespaces == ["models", "models"]


def test_workloads_ask_only_for_the_secrets_their_own_pods_mount() -> None:
    """Grafana's password and Alertmanager's token are MonitoringStack's to write: the workloads run without them and
    write exactly the gateway's keys and the hub token, in their own namespace."""
    from tests.secret_stores.cases import CASES

    def program() -> None:
        workloads("w", CASES["kubernetes-monitoring"], secret_values={"secret-api-keys": "k", "secret-hf-token": "t"})

    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = ComponentMocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    pulumi.runtime.test(program)()
    secrets = sorted((plain(r.inputs)["metadata"]["namespace"], plain(r.inputs)["metadata"]["name"])
                     for r in mocks.of_type("kubernetes:core/v1:Secret"))
    assert secrets == [("phi4-onnx", "api-keys"), ("phi4-onnx", "hf-token")]
