"""Ollama model names the pinned Ollama can pull, read the way its name parser reads them.

Ollama 0.24.0 (types/model/name.go, ParseNameBare and IsValid) splits a name from the right: the tag after the last
':', the model after the last '/', the namespace before it, and whatever is left is the registry host. Each part
starts with a letter, digit or _ and holds only letters, digits, _ and - (the model and tag also '.'), at most 80
characters; a namespace with a '.' is invalid, so `hf.co/repo:tag` is a library namespace Ollama refuses, not a
registry. Only two registries are allowed: the Ollama library (no host) and the Hugging Face Hub's GGUF registry.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

HUGGING_FACE_REGISTRIES = frozenset({"hf.co", "huggingface.co"})
"""Registry names Ollama accepts for GGUF repositories on the Hub; their blobs come from the Hub's storage."""
OLLAMA_NAME_CHARACTERS = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$"
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_MODEL_OR_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_FORMS = ("allowed: <model>:<tag> or <namespace>/<model>:<tag> from the Ollama library, or "
          "hf.co/<user>/<repo>:<tag> (also huggingface.co/...) from the Hugging Face Hub")


def registry_of(name: str) -> str | None:
    """The registry host a valid name pulls from, or None for the Ollama library."""
    steps = name.split("/")
    return steps[0] if len(steps) == 3 else None


def _pullable(name: str) -> str:
    """Refuse a name the pinned Ollama would parse differently or refuse at pull time."""
    path, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        raise ValueError(f"needs an explicit tag after ':' (the model's version); {_FORMS}")
    *registry, model = path.split("/")
    if len(registry) == 2 and registry[0] not in HUGGING_FACE_REGISTRIES:
        raise ValueError(f"names a registry other than the Ollama library and the Hugging Face Hub; {_FORMS}")
    if len(registry) > 2:
        raise ValueError(f"has too many '/' steps; {_FORMS}")
    namespace = registry[-1] if registry else None
    if namespace is not None and not _NAMESPACE.fullmatch(namespace):
        raise ValueError("has a namespace (user) Ollama refuses: it must start with a letter, digit or _ and hold only "
                         f"letters, digits, _ and - (no '.'; a registry host needs <host>/<user>/<repo>), at most 80 "
                         f"characters; {_FORMS}")
    if not (_MODEL_OR_TAG.fullmatch(model) and _MODEL_OR_TAG.fullmatch(tag)):
        raise ValueError("has a model or tag Ollama refuses: each must start with a letter, digit or _ and hold only "
                         f"letters, digits, _, - and '.', at most 80 characters; {_FORMS}")
    return name


OllamaName = Annotated[
    str, StringConstraints(pattern=OLLAMA_NAME_CHARACTERS, max_length=256), AfterValidator(_pullable),
]
"""A model name Ollama 0.24.0 parses into the registry, namespace, model and tag the spec means, and can pull."""
