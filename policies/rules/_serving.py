"""Find model-server launches (command line, env, image) in workloads, Compose services and Dockerfiles."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from slm_deploy.policies.access import WORKLOAD_KINDS, command_line, containers, get, items, mapping
from slm_deploy.policies.docker_helpers import env_pairs, final_stage, instructions, text_of
from slm_deploy.policies.rules._compose import services

COMPONENT = "slm-deploy.io/component"
AUTH = "slm-deploy.io/auth"
RUNTIME = "slm-deploy.io/runtime"
WEIGHTS = "slm-deploy.io/weights-bytes"
SERVING_KINDS = WORKLOAD_KINDS | {"ComposeProject", "Dockerfile"}
SERVER_WORDS = {"llamacpp": ("llama-server",), "vllm": ("vllm serve", "vllm.entrypoints"), "ollama": ("ollama serve",)}
"""What a command line says when it starts the runtime's server rather than a helper in the same image."""


@dataclass(frozen=True)
class Launch:
    """One process definition: where it is, its words, its environment names and literal values."""

    path: str
    words: list[str]
    env: dict[str, Any] = field(default_factory=dict)
    image: str = ""
    labels: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    def program_words(self) -> list[str]:
        """The words before the first long option: the program and how it is started, never an option's value
        (a namespace or path that merely contains a runtime's name, as in --namespaces=vllm-chat)."""
        words = [str(word) for word in self.words]
        first_option = next((i for i, word in enumerate(words) if word.strip('[],"\'').startswith("--")), len(words))
        return words[:first_option]

    @property
    def runtime(self) -> str | None:
        """vllm, llamacpp or ollama when the launch runs one of them."""
        declared = self.labels.get(RUNTIME)
        if declared:
            return str(declared)
        joined = " ".join(self.program_words()).lower()
        image = self.image.lower()
        if "llama-server" in joined or "llama.cpp" in image or "llama-server" in image:
            return "llamacpp"
        if "vllm" in joined or "vllm" in image:
            return "vllm"
        if "ollama" in joined or "ollama" in image:
            return "ollama"
        return None


def starts_server(launch: Launch) -> bool:
    """Whether a launch starts its runtime's server: it says so, or leaves the image's entrypoint in charge.

    Download jobs and wait loops that share the runtime's image and labels start no server, so rules about
    how the server is configured do not apply to them."""
    tokens = [w.strip('[],"\'') for w in launch.words]
    if not tokens or tokens[0].startswith("-"):
        return True
    joined = " ".join(t.rsplit("/", 1)[-1] if i == 0 else t for i, t in enumerate(tokens))
    return any(word in joined for word in SERVER_WORDS.get(launch.runtime or "", ()))


def labels_list_to_map(value: Any) -> Mapping[str, Any]:
    """Compose labels/environment given as a mapping or a list of KEY=VALUE strings."""
    if isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for entry in items(value):
        key, eq, val = str(entry).partition("=")
        out[key] = val if eq else None
    return out


def _k8s_env(container: Mapping) -> dict[str, Any]:
    """Env names mapped to literal values (None when taken from a reference)."""
    out: dict[str, Any] = {}
    for entry in items(container.get("env")):
        if isinstance(entry, Mapping) and entry.get("name") is not None:
            out[str(entry.get("name"))] = entry.get("value") if "value" in entry else None
    return out


def launches(manifest: Any, kind: str) -> Iterator[Launch]:
    """Every process the manifest starts, whatever the target."""
    if kind in WORKLOAD_KINDS:
        template_labels = mapping(get(manifest, "spec", "template", "metadata", "labels"))
        labels = {**mapping(get(manifest, "metadata", "labels")), **template_labels}
        for path, container in containers(manifest, kind):
            own = labels if ".containers[" in path else {}
            yield Launch(path, command_line(container), _k8s_env(container), str(container.get("image") or ""),
                         own, container)
    elif kind == "ComposeProject":
        for path, service in services(manifest):
            yield Launch(path, command_line(service), dict(labels_list_to_map(service.get("environment"))),
                         str(service.get("image") or ""), labels_list_to_map(service.get("labels")), service)
    elif kind == "Dockerfile":
        stage = final_stage(manifest)
        if stage is None:
            return
        words: list[str] = []
        for instruction in instructions(stage, "ENTRYPOINT", "CMD"):
            words.extend(text_of(instruction).split())
        env = {name: value for i in instructions(stage, "ENV") for name, value in env_pairs(i)}
        yield Launch("final stage", words, env, str(stage.get("image") or ""), {}, stage)
