"""Every rendered compose.yaml: the compose-spec schema, docker-compose 1.29 and the policy pack accept it,
and its topology keeps the runtime reachable only through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slm_deploy.policies import check_bundle
from tests.conftest import stack_id
from tests.render.bundles import rendered, stacks_with
from tests.support import judges

COMPOSE_STACKS = stacks_with("compose/compose.yaml")


@pytest.fixture(scope="module", params=COMPOSE_STACKS, ids=stack_id)
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(request.param, tmp_path_factory)


def project(bundle: Path) -> dict:
    return yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())


def by_component(document: dict, component: str) -> dict[str, dict]:
    return {name: s for name, s in document["services"].items()
            if s["labels"].get("slm-deploy.io/component") == component}


def test_every_compose_example_is_covered() -> None:
    assert {stack_id(s) for s in COMPOSE_STACKS} == {"ollama-webui-compose", "phi4-onnx-edge", "qwen3-gguf-prepared",
                                                     "qwen3-llamacpp-edge"}


def test_compose_spec_schema_accepts_it(bundle: Path) -> None:
    findings = judges.compose_schema(bundle / "compose" / "compose.yaml")
    assert findings == [], judges.describe(findings)


def test_docker_compose_config_accepts_it_without_warnings(bundle: Path) -> None:
    findings = judges.compose_config(bundle / "compose")
    assert findings == [], judges.describe(findings)


def test_policy_pack_passes_the_whole_compose_bundle(bundle: Path) -> None:
    report = check_bundle(bundle)
    assert list(report.findings) == [] and list(report.waived) == [], "\n".join(map(str, report.findings))


def test_images_are_pinned_or_built(bundle: Path) -> None:
    report = check_bundle(bundle)
    assert [f for f in report.findings if f.rule == "slm-serving-004"] == []
    for name, service in project(bundle)["services"].items():
        assert ("build" in service) != ("image" in service), name


def test_only_gateway_ui_and_monitoring_are_published_on_loopback(bundle: Path) -> None:
    document = project(bundle)
    published = {name for name, s in document["services"].items() if s.get("ports")}
    monitoring = {name for name, s in by_component(document, "monitoring").items() if s.get("ports")}
    assert published == set(by_component(document, "gateway")) | set(by_component(document, "ui")) | monitoring
    assert {s["labels"]["slm-deploy.io/runtime"] for s in document["services"].values() if s.get("profiles")} >= \
        {"prometheus", "alertmanager"}
    for name in published:
        assert all(port.startswith("127.0.0.1:") for port in document["services"][name]["ports"]), name
    host_ports = [port.rsplit(":", 2)[1] for name in published for port in document["services"][name]["ports"]]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_only_the_gateway_shares_a_network_with_the_runtime(bundle: Path) -> None:
    document = project(bundle)
    (runtime_name, runtime), = by_component(document, "runtime").items()
    assert runtime["networks"] in (["backend"], ["backend", "metrics"])
    assert document["networks"]["backend"] == {"internal": True}
    neighbours = {name for name, s in document["services"].items()
                  if name != runtime_name and "backend" in s.get("networks", [])}
    assert neighbours == set(by_component(document, "gateway"))
    if "metrics" in runtime["networks"]:  # Prometheus reaches the metrics port, on a network of its own
        assert document["networks"]["metrics"] == {"internal": True}
        scrapers = {s["labels"]["slm-deploy.io/runtime"] for name, s in document["services"].items()
                    if name != runtime_name and "metrics" in s.get("networks", [])}
        assert scrapers == {"gateway", "prometheus"}


def test_hardened_defaults_on_every_service(bundle: Path) -> None:
    document = project(bundle)
    awaited = {dependency for service in document["services"].values()
               for dependency, wait in (service.get("depends_on") or {}).items()
               if wait["condition"] == "service_completed_successfully"}
    for name, service in document["services"].items():
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"] and service["init"] is True, name
        assert service["pids_limit"] > 0 and service["mem_limit"] and service["cpus"], name
        assert service["restart"].startswith("on-failure:"), name
        if name in awaited:  # a step run to completion: nothing to probe, and no check inherited from the image
            assert service["healthcheck"] == {"disable": True}, name
        else:
            assert service["healthcheck"]["test"][0] == "CMD", name
        assert any(t.startswith("/tmp:") for t in service["tmpfs"]), name
        assert "ipc" not in service and "privileged" not in service, name


def test_secrets_are_files_never_environment(bundle: Path) -> None:
    document = project(bundle)
    for name, service in document["services"].items():
        for reference in service.get("secrets", []):
            assert document["secrets"][reference["source"]] == {"file": f"./secrets/{reference['source']}"}
        for variable in service.get("environment", {}):
            words = set(variable.split("_"))
            assert not words & {"TOKEN", "SECRET", "PASSWORD"} and "API_KEY" not in variable, (name, variable)


def test_open_webui_reaches_the_model_only_through_the_gateway(tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = next(s for s in COMPOSE_STACKS if stack_id(s) == "ollama-webui-compose")
    bundle = rendered(stack, tmp_path_factory)
    document = project(bundle)
    (ui_name, ui), = by_component(document, "ui").items()
    (gateway_name, gateway), = by_component(document, "gateway").items()
    port = gateway["ports"][0].rsplit(":", 1)[1]
    assert ui["environment"]["OPENAI_API_BASE_URL"] == f"http://{gateway_name}:{port}/v1"
    assert ui["environment"]["ENABLE_OLLAMA_API"] == "False"
    assert ui["networks"] == ["edge"] and "edge" in gateway["networks"]
    assert {s["source"] for s in ui["secrets"]} == {"webui-secret-key", "webui-api-key"}
    entrypoint = (bundle / "docker" / ui_name / "open-webui-entrypoint.sh").read_text()
    assert 'WEBUI_SECRET_KEY="$(cat /run/secrets/webui-secret-key)"' in entrypoint
    assert 'OPENAI_API_KEY="$(cat /run/secrets/webui-api-key)"' in entrypoint
    assert "WEBUI_AUTH=True" in entrypoint and entrypoint.rstrip().endswith("exec bash start.sh")
    assert "open-webui" in (bundle / "README.md").read_text()


def test_ollama_preparation_runs_once_under_a_profile_beside_a_read_only_server(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = next(s for s in COMPOSE_STACKS if stack_id(s) == "ollama-webui-compose")
    bundle = rendered(stack, tmp_path_factory)
    document = project(bundle)
    (prep_name, prep), = by_component(document, "model-prep").items()
    (runtime_name, runtime), = by_component(document, "runtime").items()
    assert prep["profiles"] == ["prep"] and prep["networks"] == ["model-download"]
    assert runtime["read_only"] is True and "egress" not in runtime["networks"]
    assert "models:/models" in prep["volumes"] and "models:/models" in runtime["volumes"]
    script = (bundle / "docker" / runtime_name / "prepare-model.sh").read_text()
    assert "OLLAMA_HOST=127.0.0.1:11434 /bin/ollama serve &" in script
    assert "/bin/ollama create assistant:latest -f /etc/slm/Modelfile" in script
    modelfile = (bundle / "docker" / runtime_name / "Modelfile").read_text()
    assert "SYSTEM" in modelfile and "PARAMETER num_ctx 8192" in modelfile
