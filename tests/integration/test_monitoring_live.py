"""The rendered monitoring profile, live: Debian's Prometheus and Alertmanager, built from the bundle's own
Dockerfiles and run with its configuration, scrape the real ONNX server and gateway, record the normalised
series, and an alert reaches a webhook receiver listening on the loopback of Alertmanager's network namespace."""

from __future__ import annotations

import json
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.compose_projects import Project, containers_by_service, health_of, running_project
from tests.integration.stacks import (
    ALERT_TOKEN_SECRET, ALERTMANAGER_PORT, GATEWAY_PORT, NAME, PROMETHEUS_PORT, WEBHOOK_PORT, RenderedStack,
    free_loopback_port, http,
    wait_for,
)
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker

PROMETHEUS = f"http://127.0.0.1:{PROMETHEUS_PORT}"
ALERTMANAGER = f"http://127.0.0.1:{ALERTMANAGER_PORT}"
MONITORED_GATEWAY_PORT = free_loopback_port()
"""This project's gateway, beside the session's Compose project of the same bundle on GATEWAY_PORT."""
RECEIVER = """
import http.server, json, os, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        verdict = "authorized" if self.headers.get("Authorization") == os.environ["EXPECTED"] else "unauthorized"
        print(verdict, self.path, json.dumps(body, sort_keys=True), flush=True)
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
"""


TEMPLATES = "/usr/share/prometheus/alertmanager"
DEBIAN_TEMPLATES = {"services": {f"{NAME}-alertmanager": {"volumes": [f"{TEMPLATES}:{TEMPLATES}:ro"]}}}
"""Debian's Alertmanager reads its default notification templates from the package's data folder (upstream
builds embed them); only the stand-in needs it, so the test mounts it beside the rendered configuration."""


SERVICES = (NAME, f"{NAME}-gateway", f"{NAME}-prometheus", f"{NAME}-alertmanager")


@dataclass(frozen=True)
class Monitored:
    project: Project
    receiver: str


@pytest.fixture(scope="module")
def monitored(onnx_stack: RenderedStack, base_image: BaseImage,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    """The project with the monitoring profile on, and a webhook receiver inside Alertmanager's namespace."""
    folder = tmp_path_factory.mktemp("monitoring-live") / "bundle"
    token = secrets.token_hex(24)
    with running_project(onnx_stack, folder, set(SERVICES), profiles=("monitoring",), override=DEBIAN_TEMPLATES,
                         secrets_files={ALERT_TOKEN_SECRET: token},
                         host_ports={GATEWAY_PORT: MONITORED_GATEWAY_PORT}) as project:
        alertmanager = containers_by_service(project)[f"{NAME}-alertmanager"]["Id"]
        receiver = f"slmit-hook-{uuid.uuid4().hex[:8]}"
        docker("run", "--detach", "--name", receiver, "--label", "slm-deploy.test=monitoring-live",
               "--network", f"container:{alertmanager}", "--user", "10001:10001", "--read-only",
               "--cap-drop", "ALL", "--env", f"EXPECTED=Bearer {token}",
               base_image.local_tag, "python3", "-c", RECEIVER, str(WEBHOOK_PORT))
        try:
            yield Monitored(project, receiver)
        finally:
            docker("rm", "--force", receiver)


def api(base: str, path: str, **params: str) -> dict:
    status, body = http("GET", f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}")
    assert status == 200, body
    return json.loads(body)


def query(expr: str) -> list[dict]:
    return api(PROMETHEUS, "/api/v1/query", query=expr)["data"]["result"]


def test_the_monitoring_profile_comes_up_healthy(monitored: Monitored) -> None:
    assert health_of(monitored.project) == {name: "healthy" for name in SERVICES}


def test_prometheus_scrapes_the_onnx_server_and_the_gateway(monitored: Monitored) -> None:
    def targets() -> dict[str, dict]:
        active = api(PROMETHEUS, "/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["component"]: t for t in active if t["health"] == "up"}

    wait_for(lambda: set(targets()) == {"runtime", "gateway"}, "both targets scraped", 30, 2.0,
             describe=lambda: json.dumps(api(PROMETHEUS, "/api/v1/targets")["data"], indent=1)[:3000])
    for component, target in targets().items():
        assert target["labels"]["deployment"] == NAME and target["labels"]["runtime"] == "onnxruntime", component
    assert query(f'ortgenai_model_loaded{{deployment="{NAME}"}}')[0]["value"][1] == "1"


def test_recording_rules_turn_real_traffic_into_the_normalised_series(monitored: Monitored) -> None:
    auth = {"Authorization": f"Bearer {monitored.project.api_key}"}
    base = f"http://127.0.0.1:{MONITORED_GATEWAY_PORT}"
    model = json.loads(http("GET", f"{base}/v1/models", headers=auth)[1])["data"][0]["id"]

    def chat() -> None:
        status, body = http("POST", f"{base}/v1/chat/completions", {
            "model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4, "stream": True,
        }, headers=auth)
        assert status == 200, body

    # A labelled counter appears with its first request; rates need it scraped before it grows again.
    chat()
    wait_for(lambda: bool(query(f'slm_gateway_requests_total{{deployment="{NAME}",route="/v1/chat/completions"}}')),
             "the first request's counter scraped", 20, 1.0)
    for _ in range(3):
        chat()

    def value(expr: str) -> float:
        found = query(expr)
        return float(found[0]["value"][1]) if found else -1.0

    selector = f'{{deployment="{NAME}",runtime="onnxruntime"}}'
    wait_for(lambda: value(f"slm:requests:rate5m{selector}") > 0 and value(f"slm:generated_tokens:rate5m{selector}") > 0,
             "normalised request and token rates", 40, 3.0,
             describe=lambda: json.dumps(query('{__name__=~"slm:requests:rate5m|slm:generated_tokens:rate5m"}')))
    assert value(f"slm:model_loaded{selector}") == 1
    assert value(f"slm:requests_running{selector}") >= 0
    assert value(f"slm:time_to_first_token_seconds_count:rate5m{selector}") > 0
    # The SLO ratios are a group of their own, evaluated on its own tick: they may trail the normalised series.
    availability = f'slm:slo_errors:ratio_rate5m{{deployment="{NAME}",slo="availability"}}'
    wait_for(lambda: value(availability) >= 0, "the availability SLO ratio", 40, 3.0)
    assert value(availability) == 0


def test_prometheus_delivers_to_the_rendered_alertmanager(monitored: Monitored) -> None:
    wait_for(lambda: bool(api(PROMETHEUS, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]),
             "Prometheus discovering Alertmanager", 20, 2.0)
    (active,) = api(PROMETHEUS, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert f"{NAME}-alertmanager:9093" in active["url"]
    rules = api(PROMETHEUS, "/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in rules} >= {f"slm-{NAME}-normalise", f"slm-{NAME}-alerts"}


def test_a_forced_alert_reaches_the_webhook_on_loopback(monitored: Monitored) -> None:
    alert = [{"labels": {"alertname": "SLMTargetDown", "deployment": NAME, "component": "gateway",
                         "severity": "critical"},
              "annotations": {"summary": f"{NAME}: forced by the test"}}]
    status, body = http("POST", f"{ALERTMANAGER}/api/v2/alerts", alert)
    assert status == 200, body
    wait_for(lambda: "SLMTargetDown" in docker("logs", monitored.receiver), "the webhook receiving the alert",
             30, 3.0, describe=lambda: docker("logs", monitored.receiver))
    line = next(line for line in docker("logs", monitored.receiver).splitlines() if "SLMTargetDown" in line)
    verdict, path, payload = line.split(" ", 2)
    assert (verdict, path) == ("authorized", "/hook"), "the bearer token came from the secret file"
    delivered = json.loads(payload)
    assert delivered["receiver"] == "webhook" and delivered["status"] == "firing"
    assert delivered["commonLabels"]["deployment"] == NAME
