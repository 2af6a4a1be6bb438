"""The Pulumi program of this repository's example stacks (stacks/Pulumi.<stack>.yaml)."""

from slm_deploy.program import run

run()
