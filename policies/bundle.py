"""Load the files of a bundle (or single files) into (kind, manifest, resource, location) subjects."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from slm_deploy.errors import BundleError
from slm_deploy.policies.dockerfile import parse_dockerfile

MANIFEST = "manifest.json"
HOSTS = "hosts"
HOST_INSTALL = "HostInstall"
HOST_SCRIPTS = {"install.sh": "posix", "install.ps1": "windows", "serve.sh": "posix", "prepare.sh": "posix",
                "requirements.txt": "pip"}
"""Host install scripts (Foundry Local, MLX), MLX's preparation and serving scripts and the lock its install takes,
judged as text: what they open to the network, and the safeguards they must keep."""
LAUNCHD_AGENTS = "launchd"
"""The folder of an MLX host bundle holding its launchd agents (*.plist), judged for the program they start."""
SQUID_CONFIG = "SquidConfig"
SQUID_FILE = "squid.conf"
PROXY_FOLDER_SUFFIX = "-egress-proxy"
"""The egress proxy's allowlist, docker/<name>-egress-proxy/squid.conf, baked into its image and judged as text."""
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""Names kustomize reads as a kustomization, whatever `kind` the file declares."""


@dataclass(frozen=True)
class Subject:
    """One thing rules run on: its kind, the manifest, a display name and the file it came from."""

    kind: str
    manifest: Any
    resource: str
    location: str


def _k8s_name(obj: Mapping[str, Any]) -> str:
    """Kind/namespace/name (or Kind/name for cluster-scoped objects)."""
    metadata = obj.get("metadata")
    meta: Mapping[str, Any] = metadata if isinstance(metadata, Mapping) else {}
    parts = [str(obj.get("kind")), str(meta.get("namespace")) if meta.get("namespace") else None,
             str(meta.get("name"))]
    return "/".join(p for p in parts if p)


def _yaml_documents(text: str, location: str) -> list[Any]:
    """Every YAML document of a file; a parse error names the file."""
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise BundleError(f"{location}: not valid YAML ({exc.__class__.__name__})") from None


def load_file(path: Path, location: str) -> Iterator[Subject]:
    """Subjects of one file, recognised by name (Dockerfile*) or content (Compose services, k8s kind)."""
    if _kind_of_path(PurePosixPath(path.as_posix())) is None:
        return iter(())
    return load_text(path.read_text(encoding="utf-8"), location, PurePosixPath(path.as_posix()))


def _kind_of_path(path: PurePosixPath) -> str | None:
    """Dockerfile, host script or YAML by the file's name; None for files no rule reads."""
    if path.name.startswith("Dockerfile") or path.suffix == ".Dockerfile":
        return "Dockerfile"
    if path.parent.parent.name == HOSTS and path.name in HOST_SCRIPTS:
        return HOST_INSTALL
    if path.parent.name == LAUNCHD_AGENTS and path.parent.parent.parent.name == HOSTS and path.suffix == ".plist":
        return HOST_INSTALL
    if path.name == SQUID_FILE and path.parent.name.endswith(PROXY_FOLDER_SUFFIX):
        return SQUID_CONFIG
    if path.name in KUSTOMIZATION_FILES:
        return "Kustomization"
    return "yaml" if path.suffix in (".yaml", ".yml") else None


def load_text(text: str, location: str, path: PurePosixPath | None = None) -> Iterator[Subject]:
    """Subjects of one file's text; `path` (default: the location) tells a Dockerfile or host script by its name."""
    path = path or PurePosixPath(location)
    kind = _kind_of_path(path)
    if kind == "Dockerfile":
        yield Subject("Dockerfile", parse_dockerfile(text), location, location)
        return
    if kind == HOST_INSTALL:
        yield Subject(HOST_INSTALL, {"os": HOST_SCRIPTS.get(path.name, LAUNCHD_AGENTS), "file": path.name, "script": text}, location, location)
        return
    if kind == SQUID_CONFIG:
        yield Subject(SQUID_CONFIG, {"file": path.name, "config": text}, location, location)
        return
    if kind is None:
        return
    if kind == "Kustomization":
        for document in _yaml_documents(text, location):
            yield Subject("Kustomization", document, location, location)
        return
    for document in _yaml_documents(text, location):
        if not isinstance(document, Mapping):
            continue
        if isinstance(document.get("services"), Mapping) and "kind" not in document:
            yield Subject("ComposeProject", document, location, location)
        elif document.get("kind") == "List":
            for item in document.get("items") or []:
                if isinstance(item, Mapping) and item.get("kind"):
                    yield Subject(str(item["kind"]), item, _k8s_name(item), location)
        elif document.get("kind") == "Kustomization":
            yield Subject("Kustomization", document, location, location)
        elif document.get("kind"):
            yield Subject(str(document["kind"]), document, _k8s_name(document), location)


def is_checked(relative: str) -> bool:
    """Whether rules read this bundle file: Dockerfiles, the egress proxy's Squid configuration, the Compose file,
    Kubernetes YAML, host scripts and agents."""
    path = PurePosixPath(relative)
    parts = path.parts
    if parts[:1] == ("docker",):
        return len(parts) == 3 and (path.name.startswith("Dockerfile") or _kind_of_path(path) == SQUID_CONFIG)
    if parts[:1] == ("compose",):
        return len(parts) == 2 and path.suffix in (".yaml", ".yml") and path.name.startswith(("compose", "docker-compose"))
    if parts[:1] == ("kubernetes",):
        return path.suffix in (".yaml", ".yml") or path.name in KUSTOMIZATION_FILES
    if parts[:1] == ("helm",):
        return len(parts) == 2 and path.suffix in (".yaml", ".yml")
    if parts[:1] == (HOSTS,) and len(parts) == 4:
        return parts[2] == LAUNCHD_AGENTS and path.suffix == ".plist"
    return parts[:1] == (HOSTS,) and len(parts) == 3 and path.name in HOST_SCRIPTS


def bundle_files(root: Path) -> list[Path]:
    """The files of a bundle that rules apply to, in a stable order."""
    return [path for path in sorted(root.rglob("*"))
            if is_checked(path.relative_to(root).as_posix()) and path.is_file()]


def load_bundle(root: Path) -> list[Subject]:
    """Every subject of a bundle directory."""
    if not root.is_dir():
        raise BundleError(f"{root}: not a directory\n  hint: pass the folder `slm-deploy render` wrote")
    subjects: list[Subject] = []
    for path in bundle_files(root):
        subjects.extend(load_file(path, path.relative_to(root).as_posix()))
    return subjects


def read_manifest(root: Path) -> Mapping[str, Any] | None:
    """The bundle's manifest.json written at render time, or None when the bundle has none."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BundleError(f"{root}: {MANIFEST} is not valid JSON\n  hint: re-render the bundle") from None
    if not isinstance(data, Mapping):
        raise BundleError(f"{root}: {MANIFEST} must be a JSON object\n  hint: re-render the bundle")
    return data


def recorded_waivers(manifest: Mapping[str, Any] | None) -> list[Any]:
    """The spec's waivers as recorded in manifest.json at render time (none when absent)."""
    if manifest is None or manifest.get("waivers") is None:
        return []
    waivers = manifest["waivers"]
    if not isinstance(waivers, list):
        raise BundleError(f"{MANIFEST}: waivers must be a list of {{rule, resource, reason}}")
    return waivers


def recorded_config(manifest: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Rule options the spec set, as recorded in manifest.json at render time (rule id -> options)."""
    config = manifest.get("policy_config") if manifest is not None else None
    if config is None:
        return {}
    if not isinstance(config, Mapping) or not all(isinstance(v, Mapping) for v in config.values()):
        raise BundleError(f"{MANIFEST}: policy_config must map rule ids to option objects\n  hint: re-render the bundle")
    return dict(config)


def require_bundle(root: Path) -> Mapping[str, Any] | None:
    """Refuse paths that are not a bundle: missing, a file, or a folder with no manifest and nothing to check."""
    if not root.exists():
        raise BundleError(f"{root}: does not exist\n  hint: pass the folder `slm-deploy render` wrote")
    if not root.is_dir():
        raise BundleError(f"{root}: not a directory\n  hint: pass the folder `slm-deploy render` wrote")
    manifest = read_manifest(root)
    if manifest is None and not bundle_files(root):
        raise BundleError(f"{root}: not a bundle (no {MANIFEST}, Dockerfiles, compose files or Kubernetes "
                          "manifests)\n  hint: pass the folder `slm-deploy render` wrote")
    return manifest
