"""The serving gateway in front of every runtime: API keys, limits and normalised metrics."""

from __future__ import annotations

from functools import lru_cache

from slm_deploy.runtimes.common import (
    WRITABLE_PATHS, cache_env, pinned, python_venv_env, secret_file, service_labels,
)
from slm_deploy.runtimes.plan import HttpCheck, ImageBuild, RuntimePlan, ServicePlan
from slm_deploy.servers.gateway.config import HEALTH_STYLE_PATHS, GatewayConfig
from slm_deploy.servers.gateway.render import (
    GATEWAY_CONFIG_FILE,
    GATEWAY_HEALTH_PATH,
    GATEWAY_METRICS_PORT,
    gateway_command,
    gateway_healthcheck_command,
    gateway_memory_bytes,
    gateway_sources,
    in_flight_body_budget,
    render_gateway_config,
)
from slm_deploy.spec.loader import Deployment

AUTH_LABEL = ("slm-deploy.io/auth", "api-key")
GATEWAY_ROOT = "/opt/slm-gateway"


def body_limit(runtime: str) -> int:
    """The largest request body worth accepting for a runtime: a runtime that refuses bodies above a limit of its
    own has the gateway refuse them first, holding less."""
    if runtime == "onnxruntime":  # this project's ONNX server; its module is loaded only for ONNX specs
        from slm_deploy.servers.ortgenai.config import DEFAULT_MAX_BODY_BYTES  # noqa: PLC0415

        return DEFAULT_MAX_BODY_BYTES
    return GatewayConfig.max_request_body_bytes


def gateway_name(deployment: Deployment) -> str:
    """The gateway's service name, which is also what clients and the UI connect to."""
    return f"{deployment.spec.name}-gateway"


def _exempt_paths(runtime: ServicePlan) -> tuple[str, ...]:
    """The runtime's own health path, when it is one that may skip the key check."""
    health = runtime.health
    return (health.path,) if isinstance(health, HttpCheck) and health.path in HEALTH_STYLE_PATHS else ()


def _config(deployment: Deployment, runtime: ServicePlan, key_path: str) -> str:
    """The gateway's TOML: the runtime's route table; metrics reachable by Prometheus only when monitored."""
    auth = deployment.spec.serving.auth
    files = render_gateway_config(
        upstream=f"http://{runtime.name}:{runtime.port}",
        route_table=runtime.runtime,
        listen_port=deployment.spec.exposure.port,
        key_file=key_path,
        rate_per_second=auth.rate_per_second,
        burst=auth.burst,
        max_concurrency=auth.max_concurrency_per_key,
        exempt_paths=_exempt_paths(runtime),
        metrics_host="0.0.0.0" if deployment.spec.monitoring.enabled else "127.0.0.1",
        metrics_port=GATEWAY_METRICS_PORT,
        max_request_body_bytes=body_limit(runtime.runtime),
        max_in_flight_body_bytes=in_flight_body_budget(body_limit(runtime.runtime)),
        upstream_wait_seconds=float(_wake_wait(deployment, runtime)),
    )
    return files[GATEWAY_CONFIG_FILE]


def _wake_wait(deployment: Deployment, runtime: ServicePlan) -> int:
    """A runtime that scales to zero needs its startup budget to wake: hold requests that long, else not at all."""
    scaling = deployment.spec.serving.autoscaling
    return runtime.startup_budget_seconds if scaling.enabled and scaling.scale_to_zero else 0


@lru_cache(maxsize=1)
def _image_sources() -> tuple[tuple[str, str], ...]:
    """The installed gateway package's files, read once: every gateway image of a fleet carries the same ones."""
    return tuple(gateway_sources().items())


def gateway_service(deployment: Deployment, runtime: ServicePlan) -> ServicePlan:
    """Plan the gateway for one runtime service; its image is built from the pinned Python base."""
    spec = deployment.spec
    port = spec.exposure.port
    keys = secret_file(spec.serving.auth.api_keys_secret)
    context = {**dict(_image_sources()), GATEWAY_CONFIG_FILE: _config(deployment, runtime, keys.path)}
    env = {**cache_env(), **python_venv_env(), "PYTHONPATH": GATEWAY_ROOT}
    return ServicePlan(
        name=gateway_name(deployment), role="gateway", runtime="gateway", image=None,
        build=ImageBuild(template="gateway", base=pinned(deployment, "python"),
                         context_files=tuple(sorted(context.items())),
                         healthcheck=tuple(gateway_healthcheck_command(port))),
        command=tuple(gateway_command()), args=(), env=tuple(sorted(env.items())), port=port,
        health=HttpCheck(GATEWAY_HEALTH_PATH, port), readiness=HttpCheck(GATEWAY_HEALTH_PATH, port),
        metrics_path="/metrics", metrics_port=GATEWAY_METRICS_PORT, writable_paths=WRITABLE_PATHS,
        secret_files=(keys,), cpu=0.5,
        memory_bytes=gateway_memory_bytes(in_flight_body_budget(body_limit(runtime.runtime))), startup_budget_seconds=60,
        depends_on=(runtime.name,), labels=(*service_labels(deployment, "gateway", "gateway"), AUTH_LABEL),
    )


def with_gateway(deployment: Deployment, plan: RuntimePlan) -> RuntimePlan:
    """Put the gateway in front of the runtime when the spec asks for API keys."""
    runtimes = plan.by_role("runtime")
    if not deployment.spec.serving.auth.enabled or not runtimes:
        return plan
    return RuntimePlan(services=(*plan.services, gateway_service(deployment, runtimes[0])), hosts=plan.hosts)
