"""The Pulumi program every slm-deploy project runs: read the stack's spec, create SlmDeployment."""

from __future__ import annotations

import pulumi

from slm_deploy.errors import SlmDeployError
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.stack import SlmDeployment


def run() -> SlmDeployment:
    """Validate `slm-deploy:deployment` from the stack config, then create and export the deployment."""
    try:
        deployment = parse_deployment(pulumi.Config("slm-deploy").require_object("deployment"))
    except SlmDeployError as exc:
        raise pulumi.RunError(f"slm-deploy:deployment is invalid:\n{exc}") from None
    stack = SlmDeployment(deployment.spec.name, deployment)
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
    return stack
