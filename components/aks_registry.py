"""Image pulls from Azure Container Registry: the cluster's kubelet identity gets AcrPull on the registry."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from slm_deploy.spec.deployment import DeploymentSpec

ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")
"""Azure public cloud, Azure China and Azure Government registry domains."""

ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""The built-in AcrPull role (Microsoft.ContainerRegistry/registries/pull/read only)."""


def acr_host_name(registry: str) -> str | None:
    """The registry's resource name when `registry` is an ACR login server (x.azurecr.io/team -> x)."""
    host = registry.split("/", 1)[0].split(":", 1)[0]
    suffix = next((s for s in ACR_SUFFIXES if host.endswith(s)), None)
    return host[: -len(suffix)] if suffix else None


def acr_name(spec: DeploymentSpec) -> str | None:
    """The registry's resource name when targets.docker.registry is an ACR login server."""
    docker = spec.targets.docker
    return acr_host_name(docker.registry) if docker is not None and docker.registry else None


def created_acr_name(login_server: str) -> str:
    """The name of a registry the program creates and passes as an Output (an ACR's loginServer). Whether it is an
    ACR is known only once it resolves, and the role assignment is already declared, so anything else is refused."""
    name = acr_host_name(login_server)
    if name is None:
        raise ValueError("an Output-valued registry on an AKS target must be an Azure Container Registry login server "
                         "(<name>.azurecr.io), so the cluster's nodes get AcrPull on it; pass any other registry as "
                         "a plain string")
    return name


def role_definition_id(resource_id: str, role: str = ACR_PULL_ROLE) -> str:
    """A built-in role's id in the resource's subscription (/subscriptions/<id>/providers/...roleDefinitions/<guid>)."""
    parts = resource_id.split("/")
    if len(parts) < 3 or parts[1].lower() != "subscriptions" or not parts[2]:
        raise ValueError(f"not an Azure resource id: {resource_id!r}")
    return f"/subscriptions/{parts[2]}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def kubelet_object_id(identity_profile: object) -> str:
    """The object id of the kubelet identity AKS reports under identityProfile.kubeletidentity."""
    kubelet = identity_profile.get("kubeletidentity") if isinstance(identity_profile, dict) else None
    object_id = kubelet.get("object_id") if isinstance(kubelet, dict) else getattr(kubelet, "object_id", None)
    if not object_id:
        raise ValueError("the cluster reports no kubelet identity (identityProfile.kubeletidentity.objectId)")
    return object_id


def grant_acr_pull(name: str, registry: pulumi.Input[str], resource_group: pulumi.Input[str],
                   cluster: azure_native.containerservice.ManagedCluster,
                   opts: pulumi.ResourceOptions) -> azure_native.authorization.RoleAssignment:
    """Look the registry up in its resource group and let the cluster's nodes pull from it, nothing more."""
    found = azure_native.containerregistry.get_registry_output(registry_name=registry,
                                                             resource_group_name=resource_group)
    return azure_native.authorization.RoleAssignment(
        name, opts=opts, scope=found.id,
        role_definition_id=found.id.apply(role_definition_id),
        principal_id=cluster.identity_profile.apply(kubelet_object_id),
        principal_type="ServicePrincipal",
        description="slm-deploy: AKS nodes pull the images this stack builds")
