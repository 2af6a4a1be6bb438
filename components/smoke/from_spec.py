"""Derive smoke expectations from a deployment's plan (not shipped in the smoke image: it needs the spec code)."""

from __future__ import annotations

from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.capabilities import capabilities, client_model_name
from slm_deploy.runtimes.plan import HttpCheck, RuntimePlan
from slm_deploy.servers.gateway.render import GATEWAY_HEALTH_PATH
from slm_deploy.smoke.expectations import SmokeExpectations
from slm_deploy.spec.loader import Deployment


def _path(check: object) -> str | None:
    return check.path if isinstance(check, HttpCheck) else None


def expectations_for(deployment: Deployment, plan: RuntimePlan | None = None) -> SmokeExpectations:
    """What the deployment's client endpoint (the gateway, or the runtime without one) must answer; `plan` is the
    deployment's plan when the caller has already made it (a render has), so it is not made twice."""
    plan = plan if plan is not None else plan_deployment(deployment)
    runtimes, gated = plan.by_role("runtime"), bool(plan.by_role("gateway"))
    runtime = runtimes[0] if runtimes else None
    features = capabilities(deployment)
    runtime_health = _path(runtime.health) if runtime else None
    ready = (_path(runtime.readiness) or runtime_health) if runtime else None
    return SmokeExpectations(
        runtime=deployment.spec.runtime.kind,
        model=client_model_name(deployment),
        auth=deployment.spec.serving.auth.enabled and gated,
        health_path=GATEWAY_HEALTH_PATH if gated else runtime_health,
        ready_path=ready,
        tool_calls=features.tool_calls,
        tool_calls_note=features.tool_calls_note,
        ollama_native=features.native_api == "ollama",
        metrics_public=(not gated and runtime is not None and runtime.metrics_path is not None),
    )
