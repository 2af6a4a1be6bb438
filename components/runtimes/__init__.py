"""Runtime adapters: one pure module per serving runtime, each turning a Deployment into a RuntimePlan."""

from __future__ import annotations

from collections.abc import Callable

from slm_deploy.runtimes import foundry_local, llamacpp, mlx, ollama, onnxruntime, vllm
from slm_deploy.runtimes.egress_proxy import with_egress_proxy
from slm_deploy.runtimes.gateway import with_gateway
from slm_deploy.runtimes.monitoring import with_monitoring
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.loader import Deployment

ADAPTERS: dict[str, Callable[[Deployment], RuntimePlan]] = {
    "vllm": vllm.plan,
    "ollama": ollama.plan,
    "onnxruntime": onnxruntime.plan,
    "llamacpp": llamacpp.plan,
    "foundry-local": foundry_local.plan,
    "mlx": mlx.plan,
}


def plan_deployment(deployment: Deployment) -> RuntimePlan:
    """Dispatch to the adapter of the spec's runtime, put the gateway in front of it, add the monitoring services,
    and send its model downloads through the egress proxy."""
    planned = with_monitoring(deployment, with_gateway(deployment, ADAPTERS[deployment.spec.runtime.kind](deployment)))
    return with_egress_proxy(deployment, planned)
