"""What the Kubernetes objects do: probe budgets sized to the model, GPU scheduling, the drain, the
autoscaling signal per runtime, the model cache, exposure, and who may reach what over the network."""

from __future__ import annotations

import contextlib
import math
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.kubernetes.model_cache import WAIT_POLL_SECONDS
from slm_deploy.render.kubernetes.autoscaling import MANAGED_QUERY_ENDPOINT, prometheus_address
from slm_deploy.render.kubernetes.probes import (
    CONNECTIONS_DRAIN, PROBE_PERIOD, RUNNER_BUSY_TICKS, drain_command, grace_period_seconds,
)
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.sizing import startup_budget
from tests.render.kubernetes_cases import (
    CASES, SPECS_DIR, case_id, deployment_of, objects, of_kind, pod_templates, workload,
)
from tests.render.network_reach import Endpoint, can_reach

ROOT = Path(__file__).resolve().parents[2]

GIB = 2**30


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def case(request: pytest.FixtureRequest) -> Path:
    return request.param


# --- startup budget -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("weights", "seconds"), [(0, 900), (GIB, 918), (7_680_000_000, 1029), (16 * GIB, 1188),
                                                   (GIB + 1, 919)])
def test_startup_budget_is_fifteen_minutes_plus_eighteen_seconds_per_gib(weights: int, seconds: int) -> None:
    assert startup_budget(weights) == seconds


def test_the_runtime_startup_probe_covers_the_budget_and_liveness_waits_for_it(case: Path) -> None:
    deployment = deployment_of(case)
    server = workload(case, "runtime")["spec"]["template"]["spec"]["containers"][0]
    startup = server["startupProbe"]
    window = startup.get("initialDelaySeconds", 0) + startup["periodSeconds"] * startup["failureThreshold"]
    expected = deployment.spec.serving.startup_budget_seconds or startup_budget(deployment.sizing.weights_bytes)
    assert expected <= window < expected + PROBE_PERIOD
    assert window >= 900 + 18 * deployment.sizing.weights_bytes / GIB or deployment.spec.serving.startup_budget_seconds
    # liveness only starts once the startup probe has passed, so it can never kill a pod that is still loading
    assert "livenessProbe" in server and "initialDelaySeconds" not in server["livenessProbe"]
    annotations = workload(case, "runtime")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["slm-deploy.io/weights-bytes"] == str(deployment.sizing.weights_bytes)


def test_an_overridden_budget_wins() -> None:
    spec = SPECS_DIR / "vllm-scale-to-zero.yaml"
    server = workload(spec, "runtime")["spec"]["template"]["spec"]["containers"][0]
    assert server["startupProbe"]["failureThreshold"] * PROBE_PERIOD == 1200


READINESS = {"vllm": {"httpGet": {"path": "/v1/models", "port": 8000}},
             "llamacpp": {"httpGet": {"path": "/health", "port": 8080}},
             "onnxruntime": {"httpGet": {"path": "/health", "port": 8001}}}


def test_readiness_means_the_model_is_loaded(case: Path) -> None:
    kind = deployment_of(case).spec.runtime.kind
    server = workload(case, "runtime")["spec"]["template"]["spec"]["containers"][0]
    readiness = {k: v for k, v in server["readinessProbe"].items() if k in ("httpGet", "exec")}
    if kind == "ollama":
        assert readiness["exec"]["command"][:2] == ["/bin/ollama", "show"]
        assert readiness["exec"]["command"][2] in (deployment_of(case).model.source.tag, f"{deployment_of(case).spec.name}:latest")
    else:
        assert readiness == READINESS[kind]


# --- GPU scheduling --------------------------------------------------------------------------------------


def test_gpu_pods_request_gpus_select_gpu_nodes_and_tolerate_the_taint(case: Path) -> None:
    gpu = deployment_of(case).spec.resources.gpu
    for where, template in pod_templates(case):
        spec = template["spec"]
        runs_gpu = any("nvidia.com/gpu" in c["resources"]["limits"] for c in spec["containers"])
        if runs_gpu:
            assert gpu is not None and where.startswith("Deployment/")
            (server,) = spec["containers"]
            assert server["resources"]["limits"]["nvidia.com/gpu"] == gpu.count
            assert "nvidia.com/gpu" not in server["resources"]["requests"]
            assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        else:
            assert "tolerations" not in spec and "nodeSelector" not in spec, where
    if gpu:
        assert any("nvidia.com/gpu" in c["resources"]["limits"] for _, t in pod_templates(case)
                   for c in t["spec"]["containers"])


def test_shared_memory_is_a_memory_volume_sized_by_the_spec(case: Path) -> None:
    deployment = deployment_of(case)
    spec = workload(case, "runtime")["spec"]["template"]["spec"]
    (dshm,) = [v for v in spec["volumes"] if v["name"] == "dshm"]
    assert dshm["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{math.ceil(deployment.sizing.shm_bytes / 2**20)}Mi"}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in spec["containers"][0]["volumeMounts"]


# --- model cache --------------------------------------------------------------------------------------------


def prep_jobs(case: Path) -> list[dict]:
    """The pre-download Jobs (the smoke Job in kubernetes/smoke/ is another)."""
    return [j for j in of_kind(case, "Job") if j["metadata"]["labels"]["slm-deploy.io/component"] == "model-prep"]


def test_weights_are_fetched_once_by_a_job_and_served_offline(case: Path) -> None:
    deployment = deployment_of(case)
    jobs = prep_jobs(case)
    runtime = workload(case, "runtime")["spec"]["template"]["spec"]
    (claim,) = [c for c in of_kind(case, "PersistentVolumeClaim") if c["metadata"]["name"].endswith("-models")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (job,) = jobs
    pod = job["spec"]["template"]["spec"]
    marker = pod["containers"][0]["command"][-1].rsplit(" ", 1)[-1]
    assert marker in runtime["initContainers"][0]["command"][-1]
    assert pod["restartPolicy"] == "OnFailure" and job["spec"]["backoffLimit"] >= 1
    env = {e["name"]: e["value"] for e in runtime["containers"][0].get("env", [])}
    if deployment.spec.runtime.kind in ("vllm", "onnxruntime"):
        assert env["HF_HUB_OFFLINE"] == "1"
    token = deployment.spec.model.hub_token_secret
    if token:
        (fetch,) = pod["initContainers"]
        assert {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True} in fetch["volumeMounts"]
        (secrets,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
        assert secrets["projected"]["sources"] == [{"secret": {"name": token, "items": [{"key": token, "path": token}]}}]
        assert token not in str(runtime)
    mounts = {m["name"]: m for m in runtime["containers"][0]["volumeMounts"]}
    if deployment.spec.runtime.kind != "ollama":
        assert mounts["models"]["readOnly"] is True


def test_serving_pods_wait_for_the_model_while_the_job_may_still_succeed(case: Path) -> None:
    runtime = workload(case, "runtime")["spec"]["template"]["spec"]
    (job,) = prep_jobs(case)
    (wait,) = [c for c in runtime["initContainers"] if c["name"] == "wait-for-model"]
    (gives_up,) = re.findall(r'-ge (\d+) \]; then echo .model cache not ready', wait["command"][-1])
    assert int(gives_up) >= job["spec"]["activeDeadlineSeconds"] + WAIT_POLL_SECONDS


def test_ollama_prepares_its_model_from_configmap_files() -> None:
    spec = SPECS_DIR / "ollama-webui-internal.yaml"
    (config,) = [c for c in of_kind(spec, "ConfigMap") if "model-prep" in c["metadata"]["name"]]
    assert sorted(config["data"]) == ["Modelfile", "prepare-model.sh"]
    assert "ollama pull llama3.2:3b" in config["data"]["prepare-model.sh"]
    (job,) = prep_jobs(spec)
    fetch = job["spec"]["template"]["spec"]["initContainers"][0]
    assert fetch["command"] == ["/bin/sh", "/etc/slm/prepare-model.sh"]
    assert {"name": "config", "mountPath": "/etc/slm", "readOnly": True} in fetch["volumeMounts"]
    ui = workload(spec, "ui")
    assert ui["spec"]["strategy"] == {"type": "Recreate"}
    assert any(v.get("configMap", {}).get("name", "").startswith("assistant-open-webui") for v in
               ui["spec"]["template"]["spec"]["volumes"])


# --- the drain -----------------------------------------------------------------------------------------------


def test_every_long_running_container_drains_within_its_grace_period(case: Path) -> None:
    for obj in of_kind(case, "Deployment"):
        spec = obj["spec"]["template"]["spec"]
        (main,) = spec["containers"]
        command = main["lifecycle"]["preStop"]["exec"]["command"]
        settle, budget = float(command[4]), float(command[5])  # both forms: [prog, -c, script, x, settle, budget]
        assert settle + budget < spec["terminationGracePeriodSeconds"] == grace_period_seconds()


def _drain_for(spec_path: Path, role: str):
    plan = plan_deployment(deployment_of(spec_path))
    return next(s for s in plan.services if s.role == role)


class Metrics(BaseHTTPRequestHandler):
    """Serves a scripted sequence of Prometheus texts, one per scrape, and counts scrapes."""

    pages: list[str] = []
    scrapes = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        cls = type(self)
        page = cls.pages[min(cls.scrapes, len(cls.pages) - 1)]
        cls.scrapes += 1
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


def _serve(pages: list[str]) -> tuple[ThreadingHTTPServer, type[Metrics]]:
    handler = type("ScriptedMetrics", (Metrics,), {"pages": pages, "scrapes": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def _run_drain(command: list[str], url: str) -> subprocess.CompletedProcess:
    """Run the rendered preStop with the settle time cut to 0 and the URL pointed at a local scripted server."""
    argv = list(command)
    if argv[0] == "python3":
        argv[0] = sys.executable
        argv[3], argv[4] = url, "0"
    else:
        argv[4], argv[6] = "0", url
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


VLLM_BUSY = ('# HELP vllm:num_requests_running Number of requests in model execution batches.\n'
             'vllm:num_requests_running{engine="0",model_name="m"} 1.0\n'
             'vllm:num_requests_waiting{engine="0",model_name="m"} 2.0\n'
             'vllm:num_requests_running_total_unrelated 5.0\n')
VLLM_IDLE = ('vllm:num_requests_running{engine="0",model_name="m"} 0.0\n'
             'vllm:num_requests_waiting{engine="0",model_name="m"} 0.0\n'
             'vllm:generation_tokens_total{model_name="m"} 42.0\n')


def test_the_vllm_drain_waits_until_nothing_runs_or_waits() -> None:
    command = drain_command(_drain_for(Path("stacks/Pulumi.phi4-vllm-aks.yaml").resolve(), "runtime"))
    assert command[-2:] == ["vllm:num_requests_running", "vllm:num_requests_waiting"]
    server, handler = _serve([VLLM_BUSY, VLLM_BUSY, VLLM_IDLE])
    try:
        result = _run_drain(command, f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert handler.scrapes == 3  # busy, busy, then idle: it stopped at the first idle scrape


LLAMA_BUSY = "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 1\nllamacpp:requests_deferred 3\n"
LLAMA_IDLE = "llamacpp:requests_processing 0\nllamacpp:requests_deferred 0\nllamacpp:tokens_predicted_total 9\n"


def test_the_llamacpp_drain_uses_curl_and_awk_and_waits_for_idle() -> None:
    command = drain_command(_drain_for(SPECS_DIR / "llamacpp-gpu-ingress.yaml", "runtime"))
    assert command[:2] == ["/bin/sh", "-c"] and "curl" in command[2] and "python" not in command[2]
    server, handler = _serve([LLAMA_BUSY, LLAMA_IDLE])
    try:
        result = _run_drain(command, f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert handler.scrapes == 2


def test_the_gateway_drains_on_its_own_in_flight_gauge() -> None:
    command = drain_command(_drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "gateway"))
    assert command[0] == "python3" and "slm_gateway_in_flight_requests" in command
    assert command[3] == "http://127.0.0.1:9464/metrics"
    server, handler = _serve(["slm_gateway_in_flight_requests 2.0\nslm_gateway_queued_requests 0.0\n",
                              "slm_gateway_in_flight_requests 0.0\nslm_gateway_queued_requests 0.0\n"])
    try:
        result = _run_drain(command, f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
    assert result.returncode == 0 and handler.scrapes == 2


def test_the_ollama_drain_reads_runner_cpu_time_with_shell_built_ins() -> None:
    command = drain_command(_drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "runtime"))
    assert command[:2] == ["/bin/sh", "-c"] and "/proc/" in command[2]
    assert not any(tool in command[2] for tool in ("curl", "python", "grep", "awk", "ps "))
    assert command[-2:] == [str(RUNNER_BUSY_TICKS), "ollama"]


CONNECTIONS_COMMAND = ["/bin/sh", "-c", CONNECTIONS_DRAIN, "drain"]


def _drain(command: list[str], *arguments: str) -> subprocess.CompletedProcess:
    """The rendered preStop script with the settle time cut to 0 and its own budget and arguments."""
    return subprocess.run([*command[:4], "0", *arguments], capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def _connection(port: int = 0):
    """A listener and one established, idle client connection to it (a keep-alive or websocket at rest)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        yield listener.getsockname()[1]
    finally:
        for sock in (client, accepted, listener):
            sock.close()


@contextlib.contextmanager
def _process_named(name: str, program: str, *args: str, tmp_path: Path):
    """Run a copy of `program` whose process name (comm) is `name`, as Ollama's model runners are."""
    copy = tmp_path / name
    shutil.copy(shutil.which(program), copy)
    process = subprocess.Popen([str(copy), *args], stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_the_ollama_drain_finishes_at_once_with_idle_keep_alive_connections_open(tmp_path: Path) -> None:
    command = drain_command(_drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "runtime"))
    with _connection(), _connection(), _process_named("ollama", "sleep", "600", tmp_path=tmp_path):
        result = _drain(command, "30", str(RUNNER_BUSY_TICKS), "ollama")
    assert result.returncode == 0, result.stderr  # idle runner and idle connections: nothing to wait for


def test_the_ollama_drain_waits_while_a_runner_computes(tmp_path: Path) -> None:
    command = drain_command(_drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "runtime"))
    with _process_named("ollama", "yes", tmp_path=tmp_path):
        # A low threshold, so a busy loop on this shared two-core machine is seen even when it gets little CPU.
        result = _drain(command, "4", "2", "ollama")
    assert result.returncode == 1 and "runner still computing" in result.stderr


def test_the_ollama_drain_counts_runners_that_start_during_the_drain_as_work(tmp_path: Path) -> None:
    """Ollama starts a runner when a request needs a model that is not loaded: that request is in flight."""
    command = drain_command(_drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "runtime"))
    copy = tmp_path / "ollama"
    shutil.copy(shutil.which("sleep"), copy)
    starter = f"while :; do {copy} 1 & sleep 0.5; done"  # a new, idle runner every half second
    with subprocess.Popen(["sh", "-c", starter], start_new_session=True) as spawner:
        try:
            result = _drain(command, "4", str(RUNNER_BUSY_TICKS), "ollama")
        finally:
            os.killpg(spawner.pid, signal.SIGKILL)
    assert result.returncode == 1 and "runner still computing" in result.stderr


def test_the_open_webui_drain_ignores_browser_websockets_and_waits_for_upstream_requests() -> None:
    ui = _drain_for(SPECS_DIR / "ollama-webui-internal.yaml", "ui")
    command = drain_command(ui)
    assert command[-2:] == [str(ui.upstream_port), "remote"]
    with _connection() as upstream:
        busy = _drain(command, "4", str(upstream), "remote")
    assert busy.returncode == 1  # a request to the gateway was still open when the budget ran out
    with _connection() as browser, _connection() as other:
        idle = _drain(command, "30", str(browser + other + 1), "remote")
    assert idle.returncode == 0, idle.stderr  # inbound websockets are not work in flight


def test_the_connection_drain_waits_while_a_client_is_connected() -> None:
    """Foundry Local in a container has neither metrics nor runners to read: clients on its port are the work."""
    with _connection() as port:
        busy = _drain(CONNECTIONS_COMMAND, "2", str(port), "local")
    assert busy.returncode == 1  # still connected when its budget ran out
    idle = _drain(CONNECTIONS_COMMAND, "2", str(port), "local")
    assert idle.returncode == 0


# --- autoscaling -----------------------------------------------------------------------------------------------

def test_each_runtime_scales_on_the_normalised_queue_within_the_spec_s_bounds(case: Path) -> None:
    deployment = deployment_of(case)
    scaling = deployment.spec.serving.autoscaling
    scaled = [o for o in objects(case) if o["kind"] == "ScaledObject"]
    runtime = workload(case, "runtime")
    if not scaling.enabled:
        assert scaled == [] and runtime["spec"]["replicas"] == deployment.spec.serving.replicas
        return
    (obj,) = scaled
    spec = obj["spec"]
    assert "replicas" not in runtime["spec"], "the autoscaler owns the replica count"
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": runtime["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (scaling.min_replicas, scaling.max_replicas)
    (queue,) = spec["triggers"]
    query = queue["metadata"]["query"]
    name = deployment.spec.name
    assert f'slm:requests_waiting{{deployment="{name}"}}' in query, "the normalised queue, whatever the runtime"
    assert f'slm_gateway_upstream_waiting_requests{{deployment="{name}"}}' in query, "held requests wake from zero"
    assert query.count("or vector(0)") == 2, "an empty series reads as 0, never as an error"
    assert queue["metadata"]["threshold"] == str(scaling.target_queue_depth)
    assert queue["metadata"]["serverAddress"] == prometheus_address(deployment)
    reaches_zero = spec["minReplicaCount"] == 0 or spec.get("idleReplicaCount") == 0
    assert reaches_zero == scaling.scale_to_zero


def test_keda_asks_the_prometheus_that_exists() -> None:
    scale_to_zero = deployment_of(SPECS_DIR / "vllm-scale-to-zero.yaml")
    assert prometheus_address(scale_to_zero) == "http://prometheus-k8s.monitoring.svc:9090"  # the spec names it
    aks = deployment_of(ROOT / "stacks" / "Pulumi.phi4-vllm-aks.yaml")
    assert prometheus_address(aks) == MANAGED_QUERY_ENDPOINT  # `pulumi up` writes the workspace's endpoint
    raw = yaml.safe_load((SPECS_DIR / "llamacpp-gpu-ingress.yaml").read_text())
    raw.setdefault("targets", {}).setdefault("kubernetes", {})["monitoring_namespace"] = "observability"
    bundled = parse_deployment(raw)
    name = bundled.spec.name
    assert prometheus_address(bundled) == f"http://{name}-prometheus.observability.svc:9090", "the bundled stack's"


def _spec_with(**serving) -> dict:
    raw = yaml.safe_load((SPECS_DIR / "ollama-no-gateway.yaml").read_text())
    raw["serving"] = {**raw["serving"], **serving}
    return raw


def test_autoscaling_without_any_signal_is_refused_with_the_field_path() -> None:
    from slm_deploy.errors import SpecError

    with pytest.raises(SpecError, match="serving.autoscaling.enabled"):
        parse_deployment(_spec_with(autoscaling={"enabled": True, "max_replicas": 2}))


def test_disruption_budgets_and_surge_rollouts(case: Path) -> None:
    runtime = workload(case, "runtime")
    assert runtime["spec"]["strategy"] == {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    spread = runtime["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
    budgets = {o["metadata"]["name"]: o for o in of_kind(case, "PodDisruptionBudget")}
    serving = deployment_of(case).spec.serving
    most = serving.autoscaling.max_replicas if serving.autoscaling.enabled else serving.replicas
    assert (runtime["metadata"]["name"] in budgets) == (most > 1)
    for budget in budgets.values():
        assert budget["spec"]["maxUnavailable"] == 1


# --- exposure --------------------------------------------------------------------------------------------------


def test_only_an_ingress_exposure_renders_an_ingress_and_it_routes_to_the_gateway_with_tls(case: Path) -> None:
    exposure = deployment_of(case).spec.exposure
    ingresses = of_kind(case, "Ingress")
    services = of_kind(case, "Service")
    assert all(s["spec"]["type"] == "ClusterIP" for s in services)
    if exposure.mode != "ingress":
        assert ingresses == []
        return
    (ingress,) = ingresses
    gateway = workload(case, "gateway")
    assert gateway["metadata"]["labels"]["slm-deploy.io/auth"] == "api-key"
    backends = [p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == [{"name": gateway["metadata"]["name"], "port": {"number": exposure.port}}]
    assert ingress["spec"]["tls"][0]["hosts"] == [exposure.host]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == exposure.tls.issuer
    assert ingress["spec"]["ingressClassName"] == exposure.ingress_class


# --- network policy matrix ---------------------------------------------------------------------------------------

INTERNET = Endpoint("internet", ip="1.1.1.1")  # global: documentation ranges are excepted from the egress
DNS = Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"})
CLOUD_METADATA = Endpoint("cloud-metadata", ip="169.254.169.254")
PRIVATE_HOST = Endpoint("private-host", ip="10.1.2.3")


def _pods(case: Path) -> dict[str, Endpoint]:
    found = {}
    for obj in objects(case):
        if obj["kind"] in ("Deployment", "Job"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            found[labels["slm-deploy.io/component"]] = Endpoint(obj["metadata"]["name"], obj["metadata"]["namespace"],
                                                                labels)
    return found


def test_the_namespace_denies_by_default_in_both_directions(case: Path) -> None:
    policies = of_kind(case, "NetworkPolicy")
    deny = next(p for p in policies if p["metadata"]["name"].endswith("-deny-all"))
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    stranger = Endpoint("stranger", deny["metadata"]["namespace"], {"app": "something-else"})
    outsider = Endpoint("outsider", "other-team", {"app": "client"})
    for pod in _pods(case).values():
        assert not can_reach(policies, stranger, pod, 8080)
        assert not can_reach(policies, pod, stranger, 8080)
        assert not can_reach(policies, outsider, pod, 9999)
        assert can_reach(policies, pod, DNS, 53, "UDP") and can_reach(policies, pod, DNS, 53, "TCP")
        assert not can_reach(policies, pod, DNS, 80)


def _scraper(deployment) -> tuple[Endpoint, Endpoint]:
    """The Prometheus that really scrapes (the spec's pods, or AKS's managed agent), and a pod beside it."""
    from slm_deploy.spec.consistency import kubernetes_target
    from slm_deploy.spec.monitoring_checks import monitoring_mode

    if monitoring_mode(deployment.spec) == "managed":
        scraper = Endpoint("ama-metrics", "kube-system", {"rsName": "ama-metrics"})
    else:
        scraper = Endpoint("prometheus", kubernetes_target(deployment.spec).monitoring_namespace,
                           dict(deployment.spec.monitoring.scraper_labels))
    return scraper, Endpoint("neighbour", scraper.namespace, {"app": "grafana"})


def test_who_may_reach_what(case: Path) -> None:
    deployment = deployment_of(case)
    spec = deployment.spec
    policies = of_kind(case, "NetworkPolicy")
    pods = _pods(case)
    plan = {s.role: s for s in plan_deployment(deployment).services}
    runtime_port = plan["runtime"].port
    monitoring, bystander = _scraper(deployment)
    controller_namespace = ("app-routing-system" if "ingress_namespace: app-routing-system" in case.read_text()
                            or spec.exposure.ingress_class == "webapprouting.kubernetes.azure.com" else "ingress-nginx")
    ingress_controller = Endpoint("controller", controller_namespace, {"app": "controller"})
    other_namespace = Endpoint("client", "other-team", {"app": "client"})
    runtime, prep = pods["runtime"], pods["model-prep"]
    gateway, ui = pods.get("gateway"), pods.get("ui")

    # the runtime: only its caller inside the namespace, and Prometheus on the metrics port
    caller = gateway or ui
    assert can_reach(policies, caller, runtime, runtime_port)
    for outsider in (ingress_controller, other_namespace, prep):
        assert not can_reach(policies, outsider, runtime, runtime_port)
    if gateway and ui:
        assert not can_reach(policies, ui, runtime, runtime_port), "the UI goes through the gateway"
    scraped = bool(plan["runtime"].metrics_path) and spec.monitoring.enabled
    assert can_reach(policies, monitoring, runtime, runtime_port) == scraped
    assert not can_reach(policies, bystander, runtime, runtime_port), "only the scraper, not its neighbours"

    # the gateway: the UI, the ingress controller (ingress), any namespace (internal), Prometheus on 9464
    if gateway:
        port = spec.exposure.port
        assert can_reach(policies, ingress_controller, gateway, port) == (spec.exposure.mode in ("ingress", "internal"))
        assert can_reach(policies, other_namespace, gateway, port) == (spec.exposure.mode == "internal")
        assert can_reach(policies, monitoring, gateway, 9464) == spec.monitoring.enabled
        assert can_reach(policies, monitoring, gateway, port) == (spec.exposure.mode == "internal")
        assert not can_reach(policies, runtime, gateway, port)
        if ui:
            assert can_reach(policies, ui, gateway, port)

    # the internet: only the egress proxy, only HTTPS, only public addresses; the pre-download Job reaches only
    # the proxy, and nothing else reaches the proxy
    proxy = pods["egress-proxy"]
    assert can_reach(policies, proxy, INTERNET, 443)
    assert not can_reach(policies, proxy, INTERNET, 80)
    for private in (CLOUD_METADATA, PRIVATE_HOST):
        assert not can_reach(policies, proxy, private, 443), private.name
    assert can_reach(policies, prep, proxy, 3128)
    assert not can_reach(policies, prep, INTERNET, 443), "the download's only way out is the proxy"
    for name, pod in pods.items():
        if name != "egress-proxy":
            assert not can_reach(policies, pod, INTERNET, 443), name
        if name != "model-prep":
            assert not can_reach(policies, pod, proxy, 3128), name
    assert not can_reach(policies, other_namespace, proxy, 3128)
    assert not can_reach(policies, prep, runtime, runtime_port)
    assert not can_reach(policies, proxy, runtime, runtime_port)


def test_the_evaluator_itself_admits_and_refuses_as_kubernetes_does() -> None:
    a = Endpoint("a", "ns", {"app": "a"})
    b = Endpoint("b", "ns", {"app": "b"})
    assert can_reach([], a, b, 80), "no policy selects them: open"
    only_ingress = [{"metadata": {"namespace": "ns"}, "spec": {
        "podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                                                                        "values": ["a"]}]}}],
                     "ports": [{"port": 80, "endPort": 90}]}]}}]
    assert can_reach(only_ingress, a, b, 85) and not can_reach(only_ingress, a, b, 91)
    assert not can_reach(only_ingress, Endpoint("c", "ns", {"app": "c"}), b, 80)
    assert not can_reach(only_ingress, Endpoint("a2", "other", {"app": "a"}), b, 80), "podSelector is namespace-local"
    assert not can_reach(only_ingress, a, b, 80, "UDP")
