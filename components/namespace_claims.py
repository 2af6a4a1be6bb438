"""Which deployments of the running program sit in which SharedNamespace, checked whichever comes first.

A SharedNamespace sizes its one ResourceQuota and LimitRange for the specs it lists. A deployment that lands in
its namespace without being listed would be refused pods by that quota, or would create the namespace (and a
quota) a second time; two components that would both create one namespace on one cluster would register it twice
and bound it twice. All are stopped at construction, with the two components named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from slm_deploy.program_state import program_table

OWNERS = "shared-namespaces"
CLAIMS = "namespace-claims"


class NamespaceClaimError(pulumi.RunError):
    """A deployment placed in a SharedNamespace that does not list it."""


@dataclass(frozen=True)
class Owner:
    """A SharedNamespace: its namespace's name and output, its cluster, and the deployments it is sized for."""

    component: str
    name: str
    output: Any
    provider: Any
    specs: frozenset[str]


@dataclass(frozen=True)
class Claim:
    """A deployment's namespace: a plain name (given, or from its spec) or an Output, and whether it creates it."""

    component: str
    name: str | None
    output: Any
    provider: Any
    spec: str
    creates: bool


def _problem(owner: Owner, claim: Claim) -> str | None:
    same = claim.provider is owner.provider and (
        (claim.output is not None and claim.output is owner.output) or claim.name == owner.name)
    if not same:
        return None
    if claim.spec not in owner.specs:
        return (f"{claim.component} is placed in the namespace of {owner.component}, whose "
                "args['specs'] do not list its deployment, so the namespace's quota and LimitRange are not sized "
                "for it: add the deployment's spec to that SharedNamespace's specs")
    if claim.creates:
        return (f"{claim.component} would create the namespace of {owner.component} a second "
                "time, with a quota of its own: pass that SharedNamespace's `namespace` output as args['namespace']")
    return None


def _raise_first(pairs: list[tuple[Owner, Claim]]) -> None:
    for owner, claim in pairs:
        problem = _problem(owner, claim)
        if problem:
            raise NamespaceClaimError(problem)


def _both_create(first: Claim, second: Claim) -> str | None:
    """Two components that would each create (and bound) one namespace of one cluster."""
    if not (first.creates and second.creates and first.provider is second.provider and first.name == second.name):
        return None
    return (f"{second.component} and {first.component} would both create the same namespace on one cluster, each "
            "with a quota of its own: give each deployment its own namespace (targets.kubernetes.namespace, or "
            "targets.kubernetes.monitoring_namespace for a bundled monitoring stack), or place the deployments in one "
            "SharedNamespace and pass its `namespace` output as args['namespace']")


def register_owner(owner: Owner) -> None:
    """Record a SharedNamespace; refuse it if a deployment already placed in its namespace is not listed."""
    _raise_first([(owner, claim) for claim in program_table(CLAIMS)])
    program_table(OWNERS).append(owner)


def register_claim(claim: Claim) -> None:
    """Record a namespace a component places objects in; refuse it if a SharedNamespace owns that namespace and
    does not list it, or if another component already creates it."""
    _raise_first([(owner, claim) for owner in program_table(OWNERS)])
    for other in program_table(CLAIMS):
        problem = _both_create(other, claim)
        if problem:
            raise NamespaceClaimError(problem)
    program_table(CLAIMS).append(claim)


def owned_by_program(namespace: object) -> bool:
    """Whether `namespace` is the output of a SharedNamespace of this program (labelled and bounded by it)."""
    return any(namespace is owner.output for owner in program_table(OWNERS))
