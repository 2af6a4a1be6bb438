"""What the public components take: a deployment spec, and values a program may only know as Outputs.

The pure renderers need plain strings. A registry or namespace that exists only once another resource
does (an ACR created in the same program, a Namespace shared by several deployments) is rendered as a
placeholder, then every string holding the placeholder becomes an Output of the real value, so no
placeholder reaches a resource.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import partial
from typing import Any

import pulumi

from slm_deploy.errors import SlmDeployError
from slm_deploy.spec.loader import Deployment, parse_deployment

REGISTRY_PLACEHOLDER = "registry.slm-deploy-pending.invalid"
"""Stands for an Output-valued registry while rendering; `.invalid` can never resolve (RFC 6761)."""
NAMESPACE_PLACEHOLDER = "ns-slm-deploy-pending-0c5e9a"
"""Stands for an Output-valued namespace while rendering."""


def checked_args(component: str, args: object, known: frozenset[str], needs_spec: bool = True) -> dict[str, Any]:
    """The args as a dict, or one TypeError naming the component and what it accepts (never a value)."""
    if not isinstance(args, Mapping):
        raise TypeError(f"{component} args must be a mapping ({component}Args or a dict), "
                        f"not {type(args).__name__}")
    unknown = sorted(str(key) for key in args if key not in known)
    if unknown:
        raise TypeError(f"{component} got unknown args {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    if needs_spec and args.get("spec") is None:
        raise TypeError(f"{component} needs args['spec']: the deployment mapping (or a parsed Deployment)")
    return dict(args)


def kubernetes_provider(component: str, values: Mapping[str, Any]) -> pulumi.ProviderResource | None:
    """The caller's Kubernetes provider as a resource: Pulumi routes a child only to a provider it holds now, and
    silently drops one given as an Output, which would send every object to the ambient kubeconfig's cluster."""
    provider = values.get("kubernetes_provider")
    if provider is None:
        return None
    if not isinstance(provider, pulumi.ProviderResource) or provider.package != "kubernetes":
        raise TypeError(f"{component} args['kubernetes_provider'] must be a pulumi_kubernetes Provider resource "
                        f"(such as AksCluster's kubernetes_provider), not {type(provider).__name__}")
    return provider


def _source(spec: object) -> dict[str, Any]:
    if isinstance(spec, Deployment):
        return copy.deepcopy(spec.source if isinstance(spec.source, dict) else spec.spec.model_dump(mode="json"))
    if isinstance(spec, Mapping):
        return copy.deepcopy(dict(spec))
    raise TypeError(f"args['spec'] must be the deployment mapping or a Deployment, not {type(spec).__name__}")


class ResolvedSpec:
    """The parsed deployment with the caller's registry and namespace applied, and how to bind them back."""

    def __init__(self, spec: object, registry: pulumi.Input[str] | None = None,
                 namespace: pulumi.Input[str] | None = None, owns_namespace: bool = False) -> None:
        data = _source(spec)
        self.bindings: dict[str, pulumi.Output[str]] = {}
        pending: dict[str, tuple[str, pulumi.Input[str]]] = {}
        targets = data.setdefault("targets", {})
        if registry is not None:
            docker = targets.get("docker")
            if not isinstance(docker, dict):
                raise TypeError("args['registry'] needs the spec's targets.docker (the images to push)")
            docker["registry"] = self._plain_or_placeholder(registry, REGISTRY_PLACEHOLDER, "registry", pending)
        if namespace is not None:
            if "kubernetes" not in targets and "aks" not in targets:
                raise TypeError("args['namespace'] needs the spec's targets.kubernetes or targets.aks")
            kubernetes = targets.setdefault("kubernetes", {})
            kubernetes["namespace"] = self._plain_or_placeholder(namespace, NAMESPACE_PLACEHOLDER, "namespace",
                                                                 pending)
            kubernetes["shared_namespace"] = not owns_namespace
        self.deployment = spec if isinstance(spec, Deployment) and registry is None and namespace is None \
            else parse_deployment(data)
        for placeholder, (arg, value) in pending.items():
            self.bindings[placeholder] = pulumi.Output.from_input(value).apply(
                partial(checked_later, data, arg, placeholder))

    @staticmethod
    def _plain_or_placeholder(value: pulumi.Input[str], placeholder: str, arg: str,
                              pending: dict[str, tuple[str, pulumi.Input[str]]]) -> str:
        if isinstance(value, str):
            return value
        pending[placeholder] = (arg, value)
        return placeholder

    def given(self, arg: str) -> pulumi.Output[str] | None:
        """The checked Output an Output-valued arg ('registry', 'namespace') resolves to, if it was one."""
        placeholder = {"registry": REGISTRY_PLACEHOLDER, "namespace": NAMESPACE_PLACEHOLDER}[arg]
        return self.bindings.get(placeholder)

    def bind(self, value: Any) -> Any:
        """`value` with every placeholder inside a string replaced by the Output it stands for."""
        if not self.bindings:
            return value
        if isinstance(value, str):
            present = {p: o for p, o in self.bindings.items() if p in value}
            if not present:
                return value
            names = list(present)
            return pulumi.Output.all(*present.values()).apply(
                lambda real: _replace_all(value, dict(zip(names, real))))
        if isinstance(value, dict):
            return {key: self.bind(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.bind(item) for item in value]
        return value


def checked_later(data: dict[str, Any], arg: str, placeholder: str, value: object) -> str:
    """An Output-valued arg, once known, held to the rules its plain value meets; the error names the arg and
    the field, never the value (a token may have been passed where a name belongs)."""
    if not isinstance(value, str):
        raise ValueError(f"args['{arg}'] must resolve to a string, not {type(value).__name__}")
    try:
        parse_deployment(_replace_in(data, placeholder, value))
    except SlmDeployError as exc:
        raise ValueError(f"args['{arg}'] resolved to a value the spec does not allow:\n{exc}") from None
    return value


def _replace_in(data: Any, placeholder: str, value: str) -> Any:
    """A copy of the spec mapping with one placeholder replaced (other Output-valued args keep theirs)."""
    if isinstance(data, dict):
        return {key: _replace_in(item, placeholder, value) for key, item in data.items()}
    if isinstance(data, list):
        return [_replace_in(item, placeholder, value) for item in data]
    return value if data == placeholder else data


def _replace_all(text: str, values: Mapping[str, str]) -> str:
    for placeholder, real in values.items():
        text = text.replace(placeholder, real)
    return text
