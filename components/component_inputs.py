"""What the public components take: a deployment spec, and values a program may only know as Outputs.

The pure renderers need plain strings. A registry or namespace that exists only once another resource
does (an ACR created in the same program, a Namespace shared by several deployments) is rendered as a
placeholder, then every string holding the placeholder becomes an Output of the real value, so no
placeholder reaches a resource.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pulumi

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
        targets = data.setdefault("targets", {})
        if registry is not None:
            docker = targets.get("docker")
            if not isinstance(docker, dict):
                raise TypeError("args['registry'] needs the spec's targets.docker (the images to push)")
            docker["registry"] = self._plain_or_placeholder(registry, REGISTRY_PLACEHOLDER)
        if namespace is not None:
            if "kubernetes" not in targets and "aks" not in targets:
                raise TypeError("args['namespace'] needs the spec's targets.kubernetes or targets.aks")
            kubernetes = targets.setdefault("kubernetes", {})
            kubernetes["namespace"] = self._plain_or_placeholder(namespace, NAMESPACE_PLACEHOLDER)
            kubernetes["shared_namespace"] = not owns_namespace
        self.deployment = spec if isinstance(spec, Deployment) and registry is None and namespace is None \
            else parse_deployment(data)

    def _plain_or_placeholder(self, value: pulumi.Input[str], placeholder: str) -> str:
        if isinstance(value, str):
            return value
        self.bindings[placeholder] = pulumi.Output.from_input(value)
        return placeholder

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


def _replace_all(text: str, values: Mapping[str, str]) -> str:
    for placeholder, real in values.items():
        text = text.replace(placeholder, real)
    return text
