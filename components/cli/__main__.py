"""`python -m slm_deploy.cli` runs the same entry point as the console script."""

from slm_deploy.cli.app import main

main()
