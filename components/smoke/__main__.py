"""`python -m slm_deploy.smoke`: the smoke checks without the rest of slm-deploy (the rendered smoke image)."""

import sys

import typer

from slm_deploy.errors import SlmDeployError
from slm_deploy.smoke.command import smoke

EXIT_BAD_INPUT = 2

try:
    typer.run(smoke)
except SlmDeployError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)
