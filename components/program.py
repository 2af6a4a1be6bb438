"""The Pulumi program every slm-deploy project runs: read the stack's config, create SlmDeployment.

This is the only module that reads Pulumi config; the components take everything as args.
"""

from __future__ import annotations

from typing import Any

import pulumi

from slm_deploy.errors import SlmDeployError
from slm_deploy.secret_values import secrets_pulumi_writes
from slm_deploy.spec.loader import Deployment, parse_deployment
from slm_deploy.spec.secret_uses import CONFIG_PREFIX
from slm_deploy.stack import SlmDeployment, SlmDeploymentArgs
from slm_deploy.stack_settings import StackSettings, read_settings, settings_args


def stack_args(deployment: Deployment, settings: StackSettings, config: pulumi.Config) -> SlmDeploymentArgs:
    """SlmDeployment's args from the stack: the spec, the operator settings and each secret value set."""
    given = settings.secret_values
    lookup = config.get_secret if given is None else given.get
    secrets: dict[str, Any] = {}
    for name in secrets_pulumi_writes(deployment):
        value = lookup(f"{CONFIG_PREFIX}{name}")
        if value is not None:
            secrets[f"{CONFIG_PREFIX}{name}"] = value
    return {"spec": deployment.source, **settings_args(settings), "secret_values": secrets}


def run() -> SlmDeployment:
    """Validate `slm-deploy:deployment` from the stack config, then create and export the deployment."""
    config = pulumi.Config("slm-deploy")
    try:
        deployment = parse_deployment(config.require_object("deployment"))
        settings = read_settings(config, pulumi.get_stack())
    except SlmDeployError as exc:
        raise pulumi.RunError(f"slm-deploy:deployment is invalid:\n{exc}") from None
    stack = SlmDeployment(deployment.spec.name, stack_args(deployment, settings, config))
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
    return stack
