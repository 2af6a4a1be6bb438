"""Serving: the model conversion step, which parses untrusted checkpoint data, has neither the hub token nor a network."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slm_deploy.policies.access import (
    containers, get, is_secret_name, items, labels_of, pod_spec,
)
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._compose import MODEL_PREP, component_of, services
from slm_deploy.policies.rules._serving import COMPONENT, labels_list_to_map

HUB_TOKEN_ENV = frozenset({"HF_TOKEN", "HF_TOKEN_PATH", "HUGGING_FACE_HUB_TOKEN"})
"""The variables huggingface_hub reads the token (or the file holding it) from."""
OFFLINE = "HF_HUB_OFFLINE"
SECRET_MOUNT_ROOT = "/run/secrets"


def _token_env(env: Mapping[str, Any]) -> list[str]:
    """The names of variables that hand the step the hub token or its file (names only: values are never read)."""
    return sorted(str(name) for name in env if str(name) in HUB_TOKEN_ENV or is_secret_name(name))


def _conversion_services(project: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Preparation services that follow a download step: they depend on one, or one is named after them."""
    prep = {path: service for path, service in services(project) if component_of(service) == MODEL_PREP}
    names = {path.removeprefix("services."): path for path in prep}
    for path, service in prep.items():
        name = path.removeprefix("services.")
        needs = service.get("depends_on")
        after = {str(dep) for dep in (needs.keys() if isinstance(needs, Mapping) else items(needs))}
        named_after = name.endswith("-model-prep") and name.removesuffix("-model-prep") + "-model-download" in names
        if named_after or after & set(names):
            yield path, service


def _bind_mounts(service: Mapping[str, Any]) -> list[int]:
    """Indexes of the service's volumes that mount a host path (short form `./x:/y` or long form type: bind)."""
    found = []
    for index, volume in enumerate(items(service.get("volumes"))):
        if isinstance(volume, Mapping):
            source, bind = str(volume.get("source", "")), volume.get("type") == "bind"
        else:
            source, bind = str(volume).split(":", 1)[0], False
        if bind or source.startswith((".", "/", "~", "$")):
            found.append(index)
    return found


def _compose(project: Any) -> Iterator[str]:
    for path, service in _conversion_services(project):
        if items(service.get("secrets")):
            yield f"{path} converts the checkpoint but is given secrets; only the download step holds the hub token"
        if items(service.get("env_file")):
            yield f"{path}.env_file hands the conversion step variables from a file, where the hub token may be"
        for index in _bind_mounts(service):
            yield (f"{path}.volumes[{index}] mounts a host path into the conversion step, which may carry the hub "
                   "token; it reads only the model volume")
        for name in _token_env(labels_list_to_map(service.get("environment"))):
            yield f"{path}.environment.{name} hands the conversion step the hub token"
        if service.get("network_mode") != "none" or service.get("networks"):
            yield f"{path} converts the checkpoint but has a network; set network_mode: none"


def _secret_volumes(spec: Mapping[str, Any]) -> set[str]:
    """Volumes of the pod that carry Secrets: secret, projected secrets, or a CSI secret store."""
    found = set()
    for volume in items(spec.get("volumes")):
        if not isinstance(volume, Mapping):
            continue
        sources = items(get(volume, "projected", "sources"))
        if volume.get("secret") is not None or volume.get("csi") is not None or any(
                isinstance(s, Mapping) and s.get("secret") is not None for s in sources):
            found.add(str(volume.get("name")))
    return found


def _kubernetes(manifest: Any, kind: str) -> Iterator[str]:
    if kind != "Job" or str(labels_of(manifest).get(COMPONENT)) != MODEL_PREP:
        return
    spec = pod_spec(manifest, kind)
    secret_volumes = _secret_volumes(spec) if spec is not None else set()
    steps = list(containers(manifest, kind))
    initial = [path for path, _ in steps if ".initContainers[" in path]
    if not initial:
        return
    for path, container in steps:
        if path == initial[0]:
            continue
        for index, mount in enumerate(items(container.get("volumeMounts"))):
            if isinstance(mount, Mapping) and (str(mount.get("name")) in secret_volumes
                                               or str(mount.get("mountPath", "")).startswith(SECRET_MOUNT_ROOT)):
                yield f"{path}.volumeMounts[{index}] mounts secrets into the conversion step"
        env: dict[str, Any] = {}
        for index, entry in enumerate(items(container.get("env"))):
            if not isinstance(entry, Mapping):
                continue
            env[str(entry.get("name"))] = entry.get("value")
            if get(entry, "valueFrom", "secretKeyRef") is not None:
                yield f"{path}.env[{index}] reads a Secret into the conversion step"
        for index, source in enumerate(items(container.get("envFrom"))):
            if isinstance(source, Mapping) and source.get("secretRef") is not None:
                yield f"{path}.envFrom[{index}] imports a Secret into the conversion step"
        for name in _token_env(env):
            yield f"{path} env {name} hands the conversion step the hub token"
        if ".initContainers[" in path and str(env.get(OFFLINE)) != "1":
            yield (f"{path} must set {OFFLINE}=1: the pod's network is shared with the download, so the conversion "
                   "step is told to stay offline")


def check(manifest, ctx):
    """Yield a violation per conversion step that holds the hub token or can reach a network."""
    if ctx.kind == "ComposeProject":
        yield from _compose(manifest)
    else:
        yield from _kubernetes(manifest, ctx.kind)


RULE = Rule(
    id="slm-serving-013",
    name="The model conversion step runs without the hub token and without a network.",
    severity=Severity.HIGH,
    controls=("S-offline-conversion",),
    kinds=frozenset({"ComposeProject", "Job"}),
    rationale="The converters parse untrusted checkpoint data (JSON, tokenizers, safetensors) and, through "
              "llama.cpp's converter and the model builder, large Python libraries: a flaw they reach must find "
              "neither a credential to steal nor a route to send it out. Only the download step needs the token "
              "and the hub.",
    remediation="Keep the hub token (the secret file and HF_TOKEN_PATH) on the download step alone; give the "
                "Compose conversion service network_mode: none and no networks, no env_file and no host path; on Kubernetes every "
                "container of the preparation Job after the download (its first init container) has no secret mounts "
                "or variables, and the init containers among them HF_HUB_OFFLINE=1.",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain", "secrets"),
)
