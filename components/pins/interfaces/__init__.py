"""What each pinned runtime really accepts and offers, derived from its artifact and kept beside pins.yaml.

Records are inputs to tests and to validation, never to rendering: a test renders every spec and checks that
each flag, environment variable, metric and probe path it emits exists in the record of the pinned version, and
validation accepts in runtime.env and runtime.extra_args only names the record shows the runtime reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from slm_deploy.errors import SlmDeployError
from slm_deploy.spec.yaml_source import load_shipped

RUNTIMES = ("vllm", "ollama", "llamacpp", "open-webui", "foundry-local", "ortgenai", "gateway")
"""Runtime ids that have a record (one file each); the shared format names these seven."""
LIST_FIELDS = ("flags", "env", "metrics", "endpoints")
OPTIONAL_LIST_FIELDS = ("persistent_env", "data_paths", "commands", "client_env", "model_types", "engine_required",
                        "engine_models", "engine_ignored_parameters")
"""Fields only some runtimes have: config read once then kept in a database, data paths, CLI commands, variables
only the client reads, the model types (config.json `model_type`) a converter can build, and for Ollama the model
architectures that always run on its own engine, those the engine implements (run there with OLLAMA_NEW_ENGINE),
and the Modelfile parameters that engine never reads."""
FLAG_VALUES = "flag_values"
"""Flag -> the names it accepts, where the runtime registers them (vLLM's parsers, llama.cpp's templates)."""
PARAMETERS = "parameters"
"""Model parameter -> the Go type the runtime parses it as (Ollama's Modelfile PARAMETER lines)."""
ENV_VALUES = "env_values"
"""Variable -> how the runtime parses its value (int, float, choice:..., switch:...), where the artifact says."""


class RecordError(SlmDeployError):
    """A record is missing or does not have the shared shape."""


@dataclass(frozen=True)
class ImageFacts:
    """What the upstream image expects of the container that runs it (where the artifact says)."""

    user: str | None = None
    writable_paths: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()


@dataclass(frozen=True)
class InterfaceRecord:
    """One runtime at one pinned version: every flag, variable, metric and path it really has."""

    runtime: str
    version: str
    pin: tuple[str, ...]
    artifact: str
    derived_by: str
    sources: tuple[str, ...]
    flags: frozenset[str]
    env: frozenset[str]
    metrics: frozenset[str]
    endpoints: frozenset[str]
    image: ImageFacts = field(default_factory=ImageFacts)
    persistent_env: frozenset[str] = frozenset()
    data_paths: frozenset[str] = frozenset()
    commands: frozenset[str] = frozenset()
    client_env: frozenset[str] = frozenset()
    """Variables only the runtime's interactive client or desktop app reads: the server never does."""
    go_version: str = ""
    """The Go release a Go runtime builds with (go.mod): its standard library's Unicode tables are the ones it has."""
    model_types: frozenset[str] = frozenset()
    engine_required: frozenset[str] = frozenset()
    engine_models: frozenset[str] = frozenset()
    engine_ignored_parameters: frozenset[str] = frozenset()
    flag_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)
    env_values: Mapping[str, str] = field(default_factory=dict)


def records_dir() -> Path:
    """components/runtimes/interfaces/ in a checkout, the same folder inside an installed package."""
    return Path(str(resources.files("slm_deploy.runtimes").joinpath("interfaces")))


def record_path(runtime: str, folder: Path | None = None) -> Path:
    return (folder or records_dir()) / f"{runtime}.yaml"


def available(folder: Path | None = None) -> tuple[str, ...]:
    """The runtimes that have a record file now."""
    return tuple(sorted(p.stem for p in (folder or records_dir()).glob("*.yaml")))


def load(runtime: str, folder: Path | None = None) -> InterfaceRecord:
    """Read and check one record; a missing file or a field of the wrong shape names the file and field."""
    path = record_path(runtime, folder)
    try:
        document = load_shipped(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RecordError(f"no interface record for {runtime} ({path.name} is missing)") from error
    except yaml.YAMLError as error:
        raise RecordError(f"{path.name}: not valid YAML ({error.__class__.__name__})") from error
    if not isinstance(document, dict):
        raise RecordError(f"{path.name}: expected a mapping")
    if document.get("runtime") != runtime:
        raise RecordError(f"{path.name}: `runtime` must be {runtime}")
    for name in ("version", "artifact", "derived_by"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise RecordError(f"{path.name}: `{name}` must be a non-empty string")
    image = document.get("image") or {}
    if not isinstance(image, dict):
        raise RecordError(f"{path.name}: `image` must be a mapping")
    user = image.get("user")
    flag_values = _mapping(document, FLAG_VALUES, path)
    return InterfaceRecord(
        runtime=runtime, version=document["version"], pin=_strings(document, "pin", path),
        artifact=document["artifact"], derived_by=document["derived_by"],
        sources=_strings(document, "sources", path),
        **{name: frozenset(_strings(document, name, path)) for name in LIST_FIELDS + OPTIONAL_LIST_FIELDS},
        image=ImageFacts(user=None if user is None else str(user),
                         writable_paths=_strings(image, "writable_paths", path),
                         entrypoint=_strings(image, "entrypoint", path)),
        flag_values={key: frozenset(_strings(flag_values, key, path)) for key in flag_values},
        parameters={key: str(kind) for key, kind in _mapping(document, PARAMETERS, path).items()},
        env_values={key: str(kind) for key, kind in _mapping(document, ENV_VALUES, path).items()},
        go_version=str(document.get("go_version") or ""),
    )


def _mapping(document: dict, name: str, path: Path) -> dict:
    value = document.get(name) or {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise RecordError(f"{path.name}: `{name}` must be a mapping")
    return value


def _strings(document: dict, name: str, path: Path) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise RecordError(f"{path.name}: `{name}` must be a list of strings")
    return tuple(str(item) for item in value)


def dump(document: dict) -> str:
    """The record as YAML with every list sorted and de-duplicated, so refreshes diff cleanly."""
    clean = {}
    for key, value in document.items():
        if key in LIST_FIELDS + OPTIONAL_LIST_FIELDS + ("sources",):
            value = sorted(set(value))
        elif key == FLAG_VALUES:
            value = {flag: sorted(set(names)) for flag, names in sorted(value.items())}
        elif key in (PARAMETERS, ENV_VALUES):
            value = dict(sorted(value.items()))
        elif key == "image":
            value = {k: (sorted(set(v)) if k == "writable_paths" else v) for k, v in value.items() if v}
        if value in (None, [], {}) and key not in LIST_FIELDS:
            continue
        clean[key] = value
    header = f"# Generated by {document['derived_by']}; refresh with `slm-deploy pins --update`, never edit by hand.\n"
    return header + yaml.safe_dump(clean, sort_keys=False, width=120, default_flow_style=False)


__all__ = ["ImageFacts", "InterfaceRecord", "RUNTIMES", "RecordError", "available", "dump", "load", "record_path",
           "records_dir"]
