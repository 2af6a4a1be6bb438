"""MLX on Apple silicon: no container reaches the Metal GPU, so a host install with the gateway in front of it."""

from __future__ import annotations

from importlib import resources

from slm_deploy.runtimes.common import options_of, source_of
from slm_deploy.runtimes.gateway import body_limit
from slm_deploy.runtimes.plan import MlxHost, RuntimePlan
from slm_deploy.servers.gateway.render import (
    GATEWAY_CONFIG_FILE, GATEWAY_METRICS_PORT, in_flight_body_budget, render_gateway_config,
)
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.mlx_layout import install_root
from slm_deploy.spec.mlx_models import MLX_SERVER_PORT
from slm_deploy.spec.model_section import HuggingFaceSource, Quantisation
from slm_deploy.spec.present import host_target
from slm_deploy.spec.runtime_options import MlxOptions

MLX_LM_VERSION = "0.32.2"
HUB_VERSION = "2.4.0"
REQUIREMENTS = (f"mlx-lm=={MLX_LM_VERSION}", "mlx==0.32.2", "mlx-metal==0.32.2", f"huggingface_hub=={HUB_VERSION}")
"""mlx-lm and the mlx build it requires (mlx>=0.32.2, Metal wheels for macOS 14 and later on arm64), the hub client that
downloads the source at its pinned revision; with the gateway's own pins, what the host lock is resolved from."""
HOST_LOCK = "locks/mlx-host.txt"
"""Beside this module: every package of the host's virtual environment at one version, with its wheels' sha256."""
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
"""The CPythons the host lock has wheels for; install.sh refuses any other."""
SECRETS_DIR = "secrets"
"""Under the install root: one file per secret the spec names, as the other targets mount them."""
WEIGHT_DTYPES = {Quantisation.BF16: "bfloat16", Quantisation.F16: "float16"}


def host_lock() -> str:
    """The hash-locked requirements file install.sh installs with --require-hashes --no-deps."""
    return (resources.files(__package__) / HOST_LOCK).read_text(encoding="utf-8")


def convert_args(deployment: Deployment) -> tuple[str, ...]:
    """mlx_lm.convert's weight options: -q with bits and group size for int4, else the unquantised dtype."""
    quant = deployment.model.quantisation
    if quant == Quantisation.INT4:
        group = options_of(deployment, MlxOptions).group_size
        return ("-q", "--q-bits", "4", "--q-group-size", str(group))
    return ("--dtype", WEIGHT_DTYPES[quant])


def _gateway_config(deployment: Deployment, server_port: int, bind_address: str) -> str:
    """The same gateway as on every target, in front of mlx_lm.server on loopback."""
    spec, root = deployment.spec, install_root(deployment.spec.name)
    auth, limit = spec.serving.auth, body_limit("mlx")
    files = render_gateway_config(
        upstream=f"http://127.0.0.1:{server_port}", route_table="mlx", listen_host=bind_address,
        listen_port=spec.exposure.port, key_file=f"{root}/{SECRETS_DIR}/{auth.api_keys_secret}", rate_per_second=auth.rate_per_second,
        burst=auth.burst, max_concurrency=auth.max_concurrency_per_key, metrics_host="127.0.0.1",
        metrics_port=GATEWAY_METRICS_PORT, max_request_body_bytes=limit,
        max_in_flight_body_bytes=in_flight_body_budget(limit),
    )
    return files[GATEWAY_CONFIG_FILE]


def plan(deployment: Deployment) -> RuntimePlan:
    """One host install; the spec checks already required targets.host on macOS and nothing else."""
    spec, model = deployment.spec, deployment.model
    source = source_of(deployment, HuggingFaceSource)
    server_port = spec.serving.port or MLX_SERVER_PORT
    bind_address = str(host_target(spec).bind_address)
    entry = catalogue().get(model.id) if model.from_catalogue else None
    host = MlxHost(
        service=spec.name, repo=source.repo, revision=source.revision,
        model_type=entry.model_type if entry else None, served_name=model.served_name,
        convert_args=convert_args(deployment), server_port=server_port, gateway_port=spec.exposure.port,
        bind_address=bind_address, gateway_config=_gateway_config(deployment, server_port, bind_address),
        keys_secret=spec.serving.auth.api_keys_secret, hub_token_secret=spec.model.hub_token_secret, version=MLX_LM_VERSION,
        requirements=host_lock(),
    )
    return RuntimePlan(services=(), hosts=(host,))
