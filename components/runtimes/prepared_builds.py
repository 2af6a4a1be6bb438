"""The serving image must read what model preparation wrote: a llama.cpp build no older than the one that converted
(an older one may not know the architecture or the quantisation), the ONNX Runtime GenAI version of the builder."""

from __future__ import annotations

import re

from slm_deploy.errors import Problem, SpecError
from slm_deploy.spec.images import ImageRef
from slm_deploy.spec.loader import Deployment

LLAMACPP_SERVER = {False: "server", True: "server-cuda"}
"""The llama.cpp image whose tag carries llama-server, by whether the spec has a GPU (server-b<N>, server-cuda-b<N>)."""
KEEP_PINNED = "remove runtime.image to serve with the pinned image, or mirror the image of that build"


def _override_hint(deployment: Deployment) -> str:
    """Tell an overriding user what to do; a pinned image that drifted is this project's defect."""
    return KEEP_PINNED if deployment.spec.runtime.image else "the pinned serving image no longer matches the converter"


def check_llamacpp_build(deployment: Deployment, image: ImageRef, converter_build: int) -> None:
    """Refuse a tag other than the llama-server image for the spec's hardware, or one older than the llama.cpp build
    that converts and quantises the GGUF."""
    flavour = LLAMACPP_SERVER[deployment.spec.resources.gpu is not None]
    match = re.fullmatch(rf"{re.escape(flavour)}-b([1-9][0-9]*)", image.tag)
    if match is None or int(match[1]) < converter_build:
        raise SpecError(Problem(
            "runtime.image", "with model.prepare (gguf), its tag must be the llama-server image for the spec's "
            f"hardware of a llama.cpp build at least as new as the one that converts the model (b{converter_build})",
            allowed=f"{flavour}-b<N> with build b{converter_build} or newer",
            hint=_override_hint(deployment)))


def check_genai_version(deployment: Deployment, image: ImageRef, builder_version: str, provider: str) -> None:
    """Refuse a server image whose tag is not exactly the onnxruntime-genai version the model builder runs and the
    execution provider the model is built for."""
    if image.tag != f"{builder_version}-{provider}":
        raise SpecError(Problem(
            "runtime.image", "with model.prepare (onnx), its tag must name the ONNX Runtime GenAI version whose "
            f"model builder prepares the model ({builder_version}) and the execution provider ({provider})",
            allowed=f"<name>:{builder_version}-{provider}",
            hint=_override_hint(deployment)))
