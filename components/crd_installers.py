"""Which resource of the running program installs the CRDs of an API group on a cluster.

A custom resource created before its CRD fails with "no matches for kind". A Helm release that installs CRDs
(cert-manager) registers here under its cluster's provider; every custom resource of that
group on the same provider, by any component, depends on it, whichever was constructed first: the dependency is
an Output the program reads once its body has run (Pulumi resolves Outputs only after the synchronous program
body returns), so the registry holds every installer by then. Installers constructed inside another Output's
`apply` come too late for that and are not seen. CRDs installed outside the program (an existing Prometheus
operator for monitoring.mode existing, KEDA) are the cluster's business and are not waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from slm_deploy.program_state import program_table

class DuplicateInstallerError(pulumi.RunError):
    """Two components of one program install the same CRDs on one cluster."""


@dataclass
class _Installer:
    provider: Any
    group: str
    resource: pulumi.Resource
    owner: str


def _current() -> list[_Installer]:
    return program_table("crd-installers")


def register_installer(provider: Any, groups: tuple[str, ...], resource: pulumi.Resource, owner: str,
                       remedy: str) -> None:
    """Record that `resource` installs the CRDs of `groups` on `provider`'s cluster; a second one is an error
    (`remedy` says how to keep one)."""
    installers = _current()
    for group in groups:
        clash = next((i for i in installers if i.provider is provider and i.group == group), None)
        if clash is not None:
            raise DuplicateInstallerError(
                f"{owner} and {clash.owner} both install the {group} CRDs (and their release) on the same cluster; "
                f"{remedy}")
        installers.append(_Installer(provider, group, resource, owner))


def installers_for(provider: Any, api_version: str) -> pulumi.Output[list[pulumi.Resource]]:
    """What must exist before a custom resource of `api_version` is created on `provider`'s cluster, read when
    the program body has run (an `apply` runs no earlier), so later installers count too."""
    installers = _current()
    return pulumi.Output.from_input(api_version.split("/", 1)[0]).apply(
        lambda group: [i.resource for i in installers if i.provider is provider and i.group == group])
