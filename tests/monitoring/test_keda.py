"""Each rendered KEDA query, evaluated by Prometheus's own engine (promtool) over synthetic series, and the
decision KEDA takes on the result: idle stays down, busy scales out, and a request held at zero wakes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slm_deploy.render.monitoring.vocabulary import GATEWAY_UPSTREAM_WAITING, SIGNAL_BY_NAME, sources
from tests.monitoring.bundles import every_bundle, write
from tests.monitoring.keda_model import decide
from tests.support import judges


def scaled_bundles() -> list[tuple[str, dict, dict[str, str]]]:
    found = []
    for name, files in every_bundle():
        for path, text in files.items():
            if path.startswith("kubernetes/scaledobject-"):
                found.append((name, yaml.safe_load(text), files))
    return found


SCALED = scaled_bundles()


def _series(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": f"{value:g}x20"}


def scenarios(deployment: str, runtime: str, threshold: int) -> dict[str, tuple[list[dict], float]]:
    """Synthetic series per case, and the query value they must give."""
    labels = {"deployment": deployment, "runtime": runtime}
    queue = sources(runtime, SIGNAL_BY_NAME["requests_waiting"], gated=True)[0]
    gateway_queue = sources("ollama", SIGNAL_BY_NAME["requests_waiting"], gated=True)[0]
    busy = 3 * threshold + 1
    return {
        "idle": ([_series(queue.name, labels, 0), _series(GATEWAY_UPSTREAM_WAITING, {"deployment": deployment}, 0)], 0),
        "busy": ([_series(queue.name, labels, busy), _series(GATEWAY_UPSTREAM_WAITING, {"deployment": deployment}, 0)],
                 busy),
        # no runtime pod exists, so no runtime series; the gateway holds one request for it
        "from-zero": ([_series(gateway_queue.name, labels, 0),
                       _series(GATEWAY_UPSTREAM_WAITING, {"deployment": deployment}, 1)], 1),
    }


@pytest.mark.parametrize(("name", "obj", "files"), SCALED, ids=[n for n, _, _ in SCALED])
def test_keda_query_and_decision(name: str, obj: dict, files: dict[str, str], tmp_path: Path) -> None:
    spec = obj["spec"]
    (trigger,) = spec["triggers"]
    deployment = obj["metadata"]["labels"]["app.kubernetes.io/instance"]
    runtime = obj["metadata"]["labels"]["app.kubernetes.io/name"]
    rules = write(files, tmp_path, "monitoring/") / "monitoring" / "prometheus" / "rules" / \
        f"{deployment}-kubernetes.rules.yml"
    cases = scenarios(deployment, runtime, int(trigger["metadata"]["threshold"]))
    tests = [{"name": case, "interval": "1m", "input_series": series,
              "promql_expr_test": [{"expr": trigger["metadata"]["query"], "eval_time": "10m",
                                    "exp_samples": [{"labels": "{}", "value": value}]}]}
             for case, (series, value) in cases.items()]
    test_file = tmp_path / "keda.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}))
    assert judges.promtool_test_rules([test_file]) == []  # Prometheus computes exactly these values

    low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
    steady = max(low, 1)
    idle = decide(cases["idle"][1], steady, spec)
    assert not idle.active
    assert idle.replicas == (0 if spec.get("idleReplicaCount") == 0 or low == 0 else low)
    busy = decide(cases["busy"][1], steady, spec)
    assert busy.active and busy.replicas == min(high, -(-cases["busy"][1] // int(trigger["metadata"]["threshold"])))
    assert busy.replicas > steady or steady == high
    woken = decide(cases["from-zero"][1], 0, spec)
    assert woken.active and woken.replicas >= 1, "a request held by the gateway wakes a runtime at zero"


def test_the_cases_include_a_deployment_that_sleeps_at_zero() -> None:
    assert any(o["spec"]["minReplicaCount"] == 0 or o["spec"].get("idleReplicaCount") == 0 for _, o, _ in SCALED)


def test_the_model_follows_keda_on_activation_and_bounds() -> None:
    spec = {"minReplicaCount": 0, "maxReplicaCount": 3,
            "triggers": [{"metadata": {"threshold": "4", "activationThreshold": "0"}}]}
    assert decide(0, 2, spec).replicas == 0
    assert decide(0.5, 0, spec).replicas == 1
    assert decide(40, 1, spec).replicas == 3
    assert decide(8.2, 2, spec).replicas == 2  # within the HPA's 10% tolerance


def test_the_gateway_of_a_runtime_that_sleeps_holds_requests_for_its_startup_budget() -> None:
    import tomllib

    from slm_deploy.runtimes import plan_deployment
    from slm_deploy.spec.loader import load_deployment
    from tests.render.kubernetes_cases import SPECS_DIR

    for spec, sleeps in ((SPECS_DIR / "vllm-scale-to-zero.yaml", True), (SPECS_DIR / "llamacpp-gpu-ingress.yaml", True),
                          (SPECS_DIR / "onnx-cpu-private.yaml", False)):
        deployment = load_deployment(spec)
        plan = plan_deployment(deployment)
        (gateway,) = plan.by_role("gateway")
        (runtime,) = plan.by_role("runtime")
        config = tomllib.loads(dict(gateway.build.context_files)["gateway.toml"])
        assert config["upstream"]["wait_seconds"] == (float(runtime.startup_budget_seconds) if sleeps else 0.0)
