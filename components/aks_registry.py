"""Image pulls from Azure Container Registry: the cluster's kubelet identity gets AcrPull on the registry."""

from __future__ import annotations

from typing import cast

import pulumi
import pulumi_azure_native as azure_native

from slm_deploy.spec.deployment import DeploymentSpec

ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")
"""Azure public cloud, Azure China and Azure Government registry domains."""

ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""The built-in AcrPull role (Microsoft.ContainerRegistry/registries/pull/read only)."""


def acr_name(registry: str) -> str | None:
    """The registry's resource name when `registry` is an ACR login server (x.azurecr.io/team -> x)."""
    host = registry.split("/", 1)[0].split(":", 1)[0]
    suffix = next((s for s in ACR_SUFFIXES if host.endswith(s)), None)
    return host[: -len(suffix)] if suffix else None


def spec_registry(spec: DeploymentSpec) -> str | None:
    """targets.docker.registry, when the spec names one."""
    docker = spec.targets.docker
    return docker.registry if docker is not None and docker.registry else None


def required_acr_name(registry: str) -> str:
    """The ACR name of a registry known only once it exists; any other registry cannot be granted to the nodes."""
    name = acr_name(registry)
    if name is None:
        raise ValueError("args['registry'] resolved to a registry that is not an Azure Container Registry login "
                         f"server ({', '.join('*' + s for s in ACR_SUFFIXES)}): the cluster's kubelet identity can "
                         "be granted pulls only from an ACR; pass args['registry_resource_id'] of the ACR, or a "
                         "registry outside Azure as a plain string")
    return name


def registry_resource_id(registry: pulumi.Input[str] | None, resource_id: pulumi.Input[str] | None,
                         resource_group: pulumi.Input[str], opts: pulumi.InvokeOptions) -> pulumi.Output[str] | None:
    """The ARM id of the ACR the nodes pull from: the one given, else looked up by the name in its login server
    (now, or once an Output registry resolves); None for a plain registry outside Azure."""
    if resource_id is not None:
        return pulumi.Output.from_input(resource_id)
    if registry is None:
        return None
    if isinstance(registry, str):
        name: pulumi.Input[str] | None = acr_name(registry)
        if name is None:
            return None
    else:
        name = pulumi.Output.from_input(cast(pulumi.Input[str], registry)).apply(required_acr_name)
    return azure_native.containerregistry.get_registry_output(registry_name=name, resource_group_name=resource_group,
                                                              opts=opts).id


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


def grant_acr_pull(name: str, registry_id: pulumi.Output[str], kubelet: pulumi.Input[str],
                   opts: pulumi.ResourceOptions) -> azure_native.authorization.RoleAssignment:
    """Let the cluster's nodes (their kubelet identity) pull from the registry, nothing more."""
    return azure_native.authorization.RoleAssignment(
        name, opts=opts, scope=registry_id,
        role_definition_id=registry_id.apply(role_definition_id),
        principal_id=kubelet,
        principal_type="ServicePrincipal",
        description="slm-deploy: AKS nodes pull the images this stack builds")
