"""Serve slm-deploy's public components to Pulumi programs in any language (the Python component provider)."""

import sys

from pulumi.provider import main

from slm_deploy.public import component_provider

if __name__ == "__main__":
    # The language host passes the plugin directory, then the engine address and flags.
    main(component_provider(), sys.argv[1:])
