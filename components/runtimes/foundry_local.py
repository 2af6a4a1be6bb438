"""Foundry Local: no official container image, so a host-level service on loopback (no gateway runs on a host)."""

from __future__ import annotations

from slm_deploy.runtimes.common import (
    WRITABLE_PATHS, cache_env, merge_env, options_of, runtime_image, service_labels, source_of,
)
from slm_deploy.runtimes.plan import HostInstall, HttpCheck, RuntimePlan, ServicePlan
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.model_section import FoundrySource
from slm_deploy.spec.runtime_options import FoundryLocalOptions
from slm_deploy.spec.present import host_target

FOUNDRY_VERSION = "0.10.3"
FOUNDRY_RELEASE = f"cli-preview-{FOUNDRY_VERSION}"
"""The Foundry Local CLI release the host scripts install (the SDK-based CLI; `foundry server ...` commands)."""


def _host(deployment: Deployment) -> HostInstall:
    spec = deployment.spec
    host = host_target(spec)
    return HostInstall(
        service=spec.name, os=host.os, model_alias=source_of(deployment, FoundrySource).alias,
        port=options_of(deployment, FoundryLocalOptions).port, release=FOUNDRY_RELEASE, version=FOUNDRY_VERSION,
    )


def _container(deployment: Deployment) -> ServicePlan:
    """A container only when the spec names an image someone built and pinned."""
    spec, sizing = deployment.spec, deployment.sizing
    port = options_of(deployment, FoundryLocalOptions).port
    return ServicePlan(
        name=spec.name, role="runtime", runtime="foundry-local", image=runtime_image(deployment, "foundry-local"),
        build=None, command=(), args=(), env=merge_env(cache_env(), deployment), port=port,
        health=HttpCheck("/v1/models", port), readiness=HttpCheck("/v1/models", port), metrics_path=None,
        writable_paths=WRITABLE_PATHS, cpu=spec.resources.cpu, memory_bytes=sizing.host_memory_bytes,
        startup_budget_seconds=sizing.startup_budget_seconds, labels=service_labels(deployment, "runtime"),
    )


def plan(deployment: Deployment) -> RuntimePlan:
    """Plan the host install, and a container only when runtime.image is set."""
    spec = deployment.spec
    services = (_container(deployment),) if options_of(deployment, FoundryLocalOptions).image else ()
    hosts = (_host(deployment),) if spec.targets.host else ()
    return RuntimePlan(services=services, hosts=hosts)
