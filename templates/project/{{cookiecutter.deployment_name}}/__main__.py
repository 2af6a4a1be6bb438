"""Create the deployment this stack's config describes, with slm-deploy's Pulumi components."""

from slm_deploy.program import run

run()
