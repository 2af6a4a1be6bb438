"""Shared reading of Compose projects (plain YAML mappings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath

from slm_deploy.policies.access import get, items, mapping

KINDS = frozenset({"ComposeProject"})
COMPONENT = "slm-deploy.io/component"
MODEL_PREP = "model-prep"
EGRESS_PROXY = "egress-proxy"
PREP_PROFILE = "prep"
"""The profile that keeps an on-demand preparation step (Ollama's pull) out of `docker compose up`."""
SQUID_ENTRYPOINT = ["/usr/sbin/squid"]
SQUID_CONFIG = "/etc/squid/squid.conf"
PROXY_BUILD_SUFFIX = "-egress-proxy"
"""The bundle's docker/<name>-egress-proxy folder, which holds the Squid image and its allowlist."""
NAME_RESOLUTION = ("extra_hosts", "dns", "dns_search", "dns_opt")
"""Keys that change where the proxy's allowed names lead (Squid resolves through /etc/hosts and resolv.conf)."""


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


def awaited(project, condition: str) -> set[str]:
    """Paths of the services another service's depends_on waits for under `condition`."""
    found = set()
    for _, service in services(project):
        for name, wait in mapping(service.get("depends_on")).items():
            if get(wait, "condition") == condition:
                found.add(f"services.{name}")
    return found


def not_a_step(project, path: str, service) -> list[str]:
    """Why a service is not a one-shot preparation step: a step publishes nothing, no service waits for it to be
    healthy, and it runs to completion before what waits for it (or only on demand, in the prep profile)."""
    reasons = []
    if items(service.get("ports")):
        reasons.append("publishes ports")
    if path in awaited(project, "service_healthy"):
        reasons.append("is awaited as a healthy server (service_healthy)")
    on_demand = PREP_PROFILE in [str(p) for p in items(service.get("profiles"))]
    if path not in awaited(project, "service_completed_successfully") and not on_demand:
        reasons.append("is neither awaited to complete (service_completed_successfully) nor kept to the prep profile")
    return reasons


def not_the_proxy(service) -> list[str]:
    """Why a service is not the rendered egress proxy: Squid with its baked configuration, publishing nothing and
    holding no model volume or secret."""
    reasons = []
    if [str(e) for e in items(service.get("entrypoint"))] != SQUID_ENTRYPOINT:
        reasons.append(f"does not run {SQUID_ENTRYPOINT[0]}")
    command = [str(c) for c in items(service.get("command"))]
    if command[-2:] != ["-f", SQUID_CONFIG]:
        reasons.append(f"does not read {SQUID_CONFIG}")
    for key in ("ports", "volumes", "secrets"):
        if items(service.get(key)):
            reasons.append(f"has {key}")
    reasons.extend(f"sets {key}" for key in NAME_RESOLUTION if service.get(key) not in (None, [], {}, ""))
    if not _builds_the_bundle_proxy(service):
        reasons.append(f"is not built from the bundle's docker/<name>{PROXY_BUILD_SUFFIX} folder")
    return reasons


def _builds_the_bundle_proxy(service) -> bool:
    """Whether the service is built from the bundle's docker/<name>-egress-proxy folder, or (a bundle pinned by
    `slm-deploy build --push`) runs that build by digest."""
    build, image = service.get("build"), service.get("image")
    if build is None and isinstance(image, str) and "@sha256:" in image:
        return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].endswith(PROXY_BUILD_SUFFIX)
    context = get(build, "context") if isinstance(build, Mapping) else build
    if image is not None or not isinstance(context, str):
        return False
    folder = PurePosixPath(context)
    return folder.parent.name == "docker" and folder.name.endswith(PROXY_BUILD_SUFFIX)


def is_egress_proxy(service) -> bool:
    """Labelled the egress proxy and, by what it runs and holds, the rendered Squid."""
    return component_of(service) == EGRESS_PROXY and not not_the_proxy(service)
