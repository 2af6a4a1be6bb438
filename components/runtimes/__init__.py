"""Runtime adapters: one pure module per serving runtime, each turning a Deployment into a RuntimePlan.

An adapter's module is imported when a spec names its runtime, so a render loads the one runtime it plans."""

from __future__ import annotations

from importlib import import_module

from slm_deploy.runtimes.egress_proxy import with_egress_proxy
from slm_deploy.runtimes.gateway import with_gateway
from slm_deploy.runtimes.monitoring import with_monitoring
from slm_deploy.runtimes.plan import RuntimePlan
from slm_deploy.spec.loader import Deployment

ADAPTER_MODULES = {
    "vllm": "vllm",
    "ollama": "ollama",
    "onnxruntime": "onnxruntime",
    "llamacpp": "llamacpp",
    "foundry-local": "foundry_local",
    "mlx": "mlx",
}
"""runtime.kind -> the module under slm_deploy.runtimes whose `plan` adapts a deployment to it."""


def adapter_plan(deployment: Deployment) -> RuntimePlan:
    """The plan of the adapter of the spec's runtime, alone."""
    module = import_module(f"{__name__}.{ADAPTER_MODULES[deployment.spec.runtime.kind]}")
    plan: RuntimePlan = module.plan(deployment)
    return plan


def plan_deployment(deployment: Deployment) -> RuntimePlan:
    """Dispatch to the adapter of the spec's runtime, put the gateway in front of it, add the monitoring services,
    and send its model downloads through the egress proxy."""
    planned = with_monitoring(deployment, with_gateway(deployment, adapter_plan(deployment)))
    return with_egress_proxy(deployment, planned)
