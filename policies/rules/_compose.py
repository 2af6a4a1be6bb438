"""Shared reading of Compose projects (plain YAML mappings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, mapping

KINDS = frozenset({"ComposeProject"})


def services(project) -> Iterator[tuple[str, Mapping]]:
    """Every service with its field path, in name order."""
    entries = mapping(get(project, "services"))
    for name in sorted(str(k) for k in entries.keys()):
        service = entries.get(name)
        if isinstance(service, Mapping):
            yield f"services.{name}", service


def limit(service, key: str, *fallbacks: str):
    """A deploy.resources.limits value, or the legacy top-level key."""
    value = get(service, "deploy", "resources", "limits", key)
    for fallback in fallbacks:
        if value in (None, ""):
            value = service.get(fallback)
    return value
