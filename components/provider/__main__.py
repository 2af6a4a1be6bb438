"""Serve slm-deploy's public components to Pulumi programs in any language (the Python component provider host)."""

from pulumi.provider.experimental import component_provider_host

from slm_deploy import __version__
from slm_deploy.public import PACKAGE_NAME, public_components

if __name__ == "__main__":
    component_provider_host(public_components(), name=PACKAGE_NAME, version=__version__)
