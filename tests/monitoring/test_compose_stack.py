"""The Compose monitoring services: hardened like every other service, optional behind a profile, reachable on
loopback only, wired to what they monitor, with credentials read from secret files."""

from __future__ import annotations

import configparser

import pytest
import yaml

from tests.monitoring.bundles import files_of_matrix, files_of_path
from tests.conftest import ROOT

QWEN = ROOT / "stacks" / "Pulumi.qwen3-llamacpp-edge.yaml"   # Grafana on
ONNX = ROOT / "stacks" / "Pulumi.phi4-onnx-edge.yaml"        # a webhook receiver with a token secret


def compose(files: dict[str, str]) -> dict:
    return yaml.safe_load(files["compose/compose.yaml"])


def monitoring_services(files: dict[str, str]) -> dict[str, dict]:
    return {n: s for n, s in compose(files)["services"].items() if s["labels"]["slm-deploy.io/component"] == "monitoring"}


@pytest.mark.parametrize("spec", [QWEN, ONNX], ids=["grafana", "receiver"])
def test_every_monitoring_service_is_hardened_optional_and_on_loopback(spec) -> None:
    files = files_of_path(spec)
    document = compose(files)
    services = monitoring_services(files)
    assert {s["labels"]["slm-deploy.io/runtime"] for s in services.values()} >= {"prometheus", "alertmanager", "loki", "alloy"}
    for name, service in services.items():
        assert service["profiles"] == ["monitoring"], name
        assert service["user"] == "10001:10001" and service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"] and service["security_opt"] == ["no-new-privileges:true"], name
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", [])), name
        for volume in service["volumes"]:
            source = volume.split(":", 1)[0]
            assert source.startswith("../monitoring/") and volume.endswith(":ro") or source in document["volumes"], volume
        assert "docker.sock" not in str(service), name
    unprofiled = [n for n, s in document["services"].items() if "profiles" not in s]
    assert all(document["services"][n]["labels"]["slm-deploy.io/component"] != "monitoring" for n in unprofiled)


def test_prometheus_scrapes_the_runtime_and_the_gateway_on_an_internal_network() -> None:
    files = files_of_path(QWEN)
    document = compose(files)
    config = yaml.safe_load(files["monitoring/prometheus/prometheus.yml"])
    targets = {job["job_name"]: job["static_configs"][0] for job in config["scrape_configs"]}
    assert targets["qwen3-edge"]["targets"] == ["qwen3-edge:8080"]
    assert targets["qwen3-edge-gateway"]["targets"] == ["qwen3-edge-gateway:9464"]
    assert {t["labels"]["component"] for t in targets.values()} == {"runtime", "gateway"}
    assert document["networks"]["metrics"] == {"internal": True}
    members = {n for n, s in document["services"].items() if "metrics" in s["networks"]}
    assert members == {"qwen3-edge", "qwen3-edge-gateway", "qwen3-edge-prometheus"}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["qwen3-edge-alertmanager:9093"]


def test_grafana_reads_its_password_from_the_secret_and_admits_no_anonymous_user() -> None:
    files = files_of_path(QWEN)
    (grafana,) = [s for s in monitoring_services(files).values() if s["labels"]["slm-deploy.io/runtime"] == "grafana"]
    assert grafana["secrets"] == [{"source": "grafana-admin-password", "target": "grafana-admin-password"}]
    assert not [k for k in grafana.get("environment", {}) if "PASSWORD" in k and not k.endswith("__FILE")]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(files["monitoring/grafana/grafana.ini"])
    assert ini["security"]["admin_password"] == "$__file{/run/secrets/grafana-admin-password}"
    assert ini["auth.anonymous"]["enabled"] == "false" and ini["users"]["allow_sign_up"] == "false"
    sources = yaml.safe_load(files["monitoring/grafana/provisioning/datasources/slm-deploy.yaml"])["datasources"]
    assert {(s["type"], s["url"]) for s in sources} == {("prometheus", "http://qwen3-edge-prometheus:9090"),
                                                         ("loki", "http://qwen3-edge-loki:3100")}


def test_the_receiver_token_is_a_mounted_secret_file_alertmanager_reads() -> None:
    files = files_of_path(ONNX)
    config = yaml.safe_load(files["monitoring/alertmanager/alertmanager.yml"])
    (hook,) = [r for r in config["receivers"] if r["name"] == "webhook"][0]["webhook_configs"]
    assert hook["url"] == "https://oncall.example.com/hooks/slm"
    assert hook["http_config"]["authorization"]["credentials_file"] == "/run/secrets/oncall-token"
    (alertmanager,) = [s for s in monitoring_services(files).values()
                       if s["labels"]["slm-deploy.io/runtime"] == "alertmanager"]
    assert alertmanager["secrets"] == [{"source": "oncall-token", "target": "oncall-token"}]
    assert compose(files)["secrets"]["oncall-token"] == {"file": "./secrets/oncall-token"}
    routes = config["route"]["routes"]
    assert {tuple(r["matchers"]) for r in routes} == {('deployment="phi4-onnx"', 'severity="critical"'),
                                                      ('deployment="phi4-onnx"', 'severity="warning"')}
    assert config["inhibit_rules"][0]["source_matchers"] == ['severity="critical"']


def test_serving_containers_log_to_the_collector_without_a_docker_socket() -> None:
    files = files_of_matrix("llamacpp", True)
    document = compose(files)
    for name, service in document["services"].items():
        component = service["labels"]["slm-deploy.io/component"]
        if component == "monitoring":
            assert "logging" not in service, name
        else:
            assert service["logging"] == {"driver": "gelf", "options": {"gelf-address": "udp://127.0.0.1:12201",
                                                                        "tag": name}}
