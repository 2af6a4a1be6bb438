"""Shared reading of azure-native ManagedCluster and AgentPool inputs."""

from __future__ import annotations

from collections.abc import Mapping

from slm_deploy.policies.access import get, items, mapping

AKS_KINDS = frozenset({"ManagedCluster"})


def addon(cluster, *names: str) -> Mapping:
    """An add-on profile by any of its accepted key spellings (ARM keys are case-insensitive)."""
    profiles = mapping(get(cluster, "addonProfiles"))
    wanted = {n.lower() for n in names}
    for key, value in profiles.items():
        if str(key).lower() in wanted:
            return mapping(value)
    return {}


def pools(manifest, kind: str) -> list[tuple[str, Mapping]]:
    """Agent pool profiles of a cluster, or the AgentPool resource itself, with their field paths."""
    if kind == "AgentPool":
        return [("", manifest)]
    return [(f"agentPoolProfiles[{i}].", p) for i, p in enumerate(items(get(manifest, "agentPoolProfiles")))
            if isinstance(p, Mapping)]
