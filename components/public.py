"""The components a Pulumi program in any language may create, as the component provider host serves them."""

from __future__ import annotations

import pulumi


def public_components() -> list[type[pulumi.ComponentResource]]:
    """Every public component: the top-level SlmDeployment and the per-concern ones it is composed of."""
    from slm_deploy.aks_add_ons import AksAddOns
    from slm_deploy.aks_cluster import AksCluster
    from slm_deploy.image_builds import ImageBuilds
    from slm_deploy.key_vault import KeyVaultSecrets
    from slm_deploy.kube_prometheus_stack import KubePrometheusStack
    from slm_deploy.kubernetes_workloads import KubernetesWorkloads
    from slm_deploy.shared_namespace import SharedNamespace
    from slm_deploy.stack import SlmDeployment

    return [SlmDeployment, ImageBuilds, KubernetesWorkloads, AksCluster, AksAddOns, KubePrometheusStack,
            KeyVaultSecrets, SharedNamespace]


PACKAGE_NAME = "slm-deploy"
"""The Pulumi package name: resource types are slm-deploy:index:<Component>."""
