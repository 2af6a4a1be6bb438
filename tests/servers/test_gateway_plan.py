"""How a deployment configures its gateway: the runtime's route table, and metrics bound as the spec asks."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.plan import ServicePlan
from slm_deploy.servers.gateway.render import BASELINE_MEMORY_BYTES, COPIES_PER_BODY_BYTE
from slm_deploy.servers.ortgenai.config import load_settings
from slm_deploy.servers.gateway.config import HEALTH_STYLE_PATHS, GatewayConfig, config_from_mapping
from slm_deploy.spec.loader import extract_deployment, parse_deployment
from slm_deploy.spec.sections import Grafana
from tests.conftest import STACKS

DIGEST = "sha256:" + "a" * 64


def _gateway_config(raw: dict[str, Any]) -> tuple[GatewayConfig, str]:
    plan = plan_deployment(parse_deployment(raw))
    gateway, runtime = plan.by_role("gateway")[0], plan.by_role("runtime")[0]
    assert gateway.build is not None
    text = dict(gateway.build.context_files)["gateway.toml"]
    return config_from_mapping(tomllib.loads(text)), runtime.runtime


def _raw(stack: Path) -> dict[str, Any]:
    return extract_deployment(yaml.safe_load(stack.read_text()))[0]


GATED = [s for s in STACKS if plan_deployment(parse_deployment(_raw(s))).by_role("gateway")]


@pytest.mark.parametrize("stack", GATED, ids=lambda s: s.stem)
@pytest.mark.parametrize("monitoring", [True, False])
def test_gateway_gets_its_runtimes_routes_and_metrics_only_where_prometheus_scrapes(
    stack: Path, monitoring: bool
) -> None:
    raw = _raw(stack)
    if monitoring:
        raw["monitoring"] = {**raw.get("monitoring", {}), "enabled": True}
    else:  # what only monitoring reads goes too: the spec refuses fields nothing uses
        settings = raw.pop("monitoring", {})
        receiver, grafana = settings.get("receiver") or {}, settings.get("grafana") or {}
        unused = {receiver.get("url_secret"), receiver.get("token_secret"), grafana.get("admin_password_secret", Grafana().admin_password_secret)}
        raw["monitoring"] = {"enabled": False}
        raw["secrets"] = {n: s for n, s in raw.get("secrets", {}).items() if n not in unused}
        raw["serving"].pop("autoscaling", None)  # scaling reads the queue from Prometheus
    config, runtime = _gateway_config(raw)
    assert config.route_table == runtime
    assert config.metrics_host == ("0.0.0.0" if monitoring else "127.0.0.1")
    assert set(config.exempt_paths) <= HEALTH_STYLE_PATHS


def test_a_foundry_local_container_is_gated_without_exempting_an_inference_route() -> None:
    raw = _raw(next(s for s in STACKS if "foundry" in s.name))
    raw["runtime"]["image"] = f"registry.example/foundry-local:1.0@{DIGEST}"
    raw["serving"] = {"auth": {"enabled": True}}
    raw["targets"] = {"compose": {}}
    raw["secrets"] = {"api-keys": {"backend": "file"}}
    config, runtime = _gateway_config(raw)
    assert (config.route_table, config.exempt_paths) == ("foundry-local", ())  # its health check is /v1/models


def _gateway_plan(raw: dict[str, Any]) -> tuple[GatewayConfig, int, ServicePlan]:
    plan = plan_deployment(parse_deployment(raw))
    gateway = plan.by_role("gateway")[0]
    config, _ = _gateway_config(raw)
    return config, gateway.memory_bytes, plan.by_role("runtime")[0]


@pytest.mark.parametrize("stack", GATED, ids=lambda s: s.stem)
def test_gateway_container_memory_holds_its_whole_body_budget(stack: Path) -> None:
    config, memory_bytes, runtime = _gateway_plan(_raw(stack))
    assert config.max_request_body_bytes <= config.max_in_flight_body_bytes
    assert memory_bytes >= (
        BASELINE_MEMORY_BYTES + COPIES_PER_BODY_BYTE * config.max_in_flight_body_bytes + config.max_usage_copy_bytes
    )
    if runtime.runtime == "onnxruntime":
        # The ONNX server, started as rendered, refuses larger bodies itself; the gateway must not buffer them.
        assert config.max_request_body_bytes == load_settings(list(runtime.args), dict(runtime.env)).max_body_bytes


def test_onnxruntime_gateway_gets_a_smaller_body_limit_and_container_than_vllm() -> None:
    limits = {}
    for stack in GATED:
        config, memory_bytes, runtime = _gateway_plan(_raw(stack))
        limits[runtime.runtime] = (config.max_request_body_bytes, memory_bytes)
    assert {"onnxruntime", "vllm"} <= set(limits)
    assert limits["onnxruntime"][0] < limits["vllm"][0]
    assert limits["onnxruntime"][1] < limits["vllm"][1]
