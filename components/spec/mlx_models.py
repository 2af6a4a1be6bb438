"""Which catalogue models mlx-lm can convert and serve: its loader builds a model by config.json `model_type`."""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.catalogue import CatalogueEntry, catalogue
from slm_deploy.spec.runtime_records import record_of
from slm_deploy.servers.gateway.render import GATEWAY_METRICS_PORT
from slm_deploy.spec.deployment import DeploymentSpec

MLX_SERVER_PORT = 8081
"""mlx_lm.server's port unless serving.port sets one; its own default, 8080, is the gateway's default
exposure.port on the same Mac."""


def mlx_model_types() -> frozenset[str]:
    """The model types the pinned mlx_lm.convert loads (from its interface record)."""
    return record_of("mlx-convert").model_types


def mlx_supports(model_type: str) -> bool:
    """Whether the pinned mlx-lm has a model class for this config.json model_type."""
    return model_type in mlx_model_types()


def mlx_unsupported(entry: CatalogueEntry) -> Problem:
    """The refusal for a catalogue model whose architecture mlx-lm cannot build."""
    offered = sorted(e.id for e in catalogue().values() if mlx_supports(e.model_type))
    return Problem("model.id", f"mlx-lm {record_of('mlx-convert').version} has no model class for this model's "
                   "architecture (config.json model_type)",
                   allowed="catalogue ids mlx-lm supports: " + ", ".join(offered),
                   hint="choose another runtime, or a model whose architecture mlx-lm supports")


def mlx_target_problems(spec: DeploymentSpec) -> list[Problem]:
    """MLX needs Apple silicon's Metal GPU, which no container reaches: a macOS host and nothing else, with the
    server and the gateway on different ports of the same machine."""
    targets = spec.targets
    problems = [Problem(f"targets.{name}", "MLX runs on Apple silicon's Metal GPU, which no container reaches",
                        allowed="targets.host with os: macos", hint="remove this target")
                for name in type(targets).model_fields if name != "host" and getattr(targets, name) is not None]
    if targets.host is None or targets.host.os != "macos":
        problems.append(Problem("targets.host" if targets.host is None else "targets.host.os",
                                "MLX installs on an Apple silicon Mac", allowed="targets.host: {os: macos}"))
    elif targets.host.allowed_clients:
        problems.append(Problem("targets.host.allowed_clients", "the MLX host install has no client filter of its "
                                "own (the gateway checks API keys; macOS's firewall is the host's to manage)",
                                allowed="an empty list"))
    server_port = spec.serving.port or MLX_SERVER_PORT
    taken = {spec.exposure.port: "exposure.port (the gateway's port)",
             GATEWAY_METRICS_PORT: f"the gateway's metrics port ({GATEWAY_METRICS_PORT})"}
    if server_port in taken and spec.serving.port is None:  # the default collides with the port the spec chose
        problems.append(Problem("exposure.port", f"is mlx_lm.server's default port ({MLX_SERVER_PORT}) on the same Mac",
                                allowed="another port from 1024 to 65535, or serving.port set to another one"))
    elif server_port in taken:
        problems.append(Problem("serving.port", f"is {taken[server_port]}, and mlx_lm.server runs on the same Mac",
                                allowed="another port from 1024 to 65535"))
    return problems
