"""Shared reading of Compose projects (plain YAML mappings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from slm_deploy.policies.access import get, items, mapping

KINDS = frozenset({"ComposeProject"})
COMPONENT = "slm-deploy.io/component"
MODEL_PREP = "model-prep"


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


def component_of(service) -> str | None:
    """The service's slm-deploy.io/component label (labels as a mapping or a KEY=VALUE list)."""
    labels = service.get("labels")
    if isinstance(labels, Mapping):
        value = labels.get(COMPONENT)
        return None if value is None else str(value)
    for entry in items(labels):
        key, _, value = str(entry).partition("=")
        if key == COMPONENT:
            return value
    return None


def is_model_prep(service) -> bool:
    """A one-shot job that downloads and verifies weights before the runtime starts."""
    return component_of(service) == MODEL_PREP
