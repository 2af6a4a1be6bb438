"""The components a Pulumi program in any language may create, as the component provider host serves them."""

from __future__ import annotations

import json
from typing import Any

import pulumi

PACKAGE_NAME = "slm-deploy"
"""The Pulumi package name: resource types are slm-deploy:index:<Component>."""
SECRET_INPUTS = ("registryPassword", "secretValues")
"""Inputs that carry credentials: generated SDKs and previews keep them secret."""
SECRET_OUTPUTS = ("kubeconfig",)
"""Outputs that carry credentials."""


def public_components() -> list[type[pulumi.ComponentResource]]:
    """Every public component: the top-level SlmDeployment and the per-concern ones it is composed of."""
    from slm_deploy.aks_add_ons import AksAddOns
    from slm_deploy.aks_cluster import AksCluster
    from slm_deploy.aks_monitoring import AksManagedMonitoring
    from slm_deploy.image_builds import ImageBuilds
    from slm_deploy.key_vault import KeyVaultSecrets
    from slm_deploy.monitoring_stack import MonitoringStack
    from slm_deploy.kubernetes_workloads import KubernetesWorkloads
    from slm_deploy.shared_namespace import SharedNamespace
    from slm_deploy.stack import SlmDeployment

    return [SlmDeployment, ImageBuilds, KubernetesWorkloads, AksCluster, AksAddOns, AksManagedMonitoring,
            MonitoringStack, KeyVaultSecrets, SharedNamespace]


def with_secrets_marked(schema: dict[str, Any]) -> dict[str, Any]:
    """The analyzer's schema with credential inputs and outputs marked secret (it has no annotation for that)."""
    for resource in schema.get("resources", {}).values():
        for section, names in (("inputProperties", SECRET_INPUTS), ("properties", SECRET_OUTPUTS)):
            for name in names:
                if name in resource.get(section, {}):
                    resource[section][name]["secret"] = True
    return schema


def component_provider():
    """The component provider the plugin serves: the analyzed public components, secrets marked."""
    from pulumi.provider.experimental.component import ComponentProvider

    from slm_deploy import __version__

    provider = ComponentProvider(public_components(), PACKAGE_NAME, None, __version__)
    provider.schema = json.dumps(with_secrets_marked(json.loads(provider.schema or "{}")))
    return provider
