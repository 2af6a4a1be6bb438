"""Where an MLX host install lives and what its launchd agents run, shared by the renderer and the policy pack.

Standard library only (and the gateway's config file name): the policy pack compares a bundle's agents with these.
"""

from __future__ import annotations

from slm_deploy.servers.gateway.render import GATEWAY_CONFIG_FILE

ROOT = "/opt/slm-deploy"
LABEL_PREFIX = "io.slm-deploy"
"""Every launchd job slm-deploy installs is named under this reverse-DNS prefix (Foundry Local's daemon too)."""


def install_root(service: str) -> str:
    """Where the install lives: fixed, so the launchd plists can name absolute paths."""
    return f"{ROOT}/{service}"


def agent_arguments(service: str, part: str) -> list[str]:
    """What one agent runs: the server agent only serve.sh (which checks the model first), the gateway its module."""
    root = install_root(service)
    if part == "server":
        return ["/bin/sh", f"{root}/bin/serve.sh"]
    return [f"{root}/venv/bin/python", "-m", "slm_deploy.servers.gateway", "--config",
            f"{root}/gateway/{GATEWAY_CONFIG_FILE}"]
