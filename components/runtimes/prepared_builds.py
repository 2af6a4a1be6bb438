"""The serving image must read what model preparation wrote: a llama.cpp build no older than the one that converted
(an older one may not know the architecture or the quantisation), the ONNX Runtime GenAI version of the builder."""

from __future__ import annotations

import re

from slm_deploy.errors import Problem, SpecError
from slm_deploy.spec.images import ImageRef
from slm_deploy.spec.loader import Deployment

LLAMACPP_BUILD = re.compile(r"(?:^|-)b(\d+)(?:-|$)")
"""The build in a llama.cpp image tag: server-b<N>, server-cuda-b<N>, b<N>."""
VERSION = re.compile(r"(?<![0-9.])(\d+\.\d+\.\d+)(?![0-9.])")
"""A three-part version in an image tag (0.18.0, 0.18.0-cuda)."""
KEEP_PINNED = "remove runtime.image to serve with the pinned image, or mirror the image of that build"


def _override_hint(deployment: Deployment) -> str:
    """Tell an overriding user what to do; a pinned image that drifted is this project's defect."""
    return KEEP_PINNED if deployment.spec.runtime.image else "the pinned serving image no longer matches the converter"


def check_llamacpp_build(deployment: Deployment, image: ImageRef, converter_build: int) -> None:
    """Refuse a llama-server image older than the llama.cpp build that converts and quantises the GGUF."""
    match = LLAMACPP_BUILD.search(image.tag)
    if match is None or int(match[1]) < converter_build:
        raise SpecError(Problem(
            "runtime.image", "with model.prepare (gguf), its tag must name a llama.cpp build at least as new as the "
            f"one that converts the model (b{converter_build})",
            allowed=f"a tag naming build b{converter_build} or newer, as server-b<N> or server-cuda-b<N>",
            hint=_override_hint(deployment)))


def check_genai_version(deployment: Deployment, image: ImageRef, builder_version: str) -> None:
    """Refuse a server image whose tag does not name the onnxruntime-genai version the model builder runs."""
    if builder_version not in VERSION.findall(image.tag):
        raise SpecError(Problem(
            "runtime.image", "with model.prepare (onnx), its tag must name the ONNX Runtime GenAI version whose "
            f"model builder prepares the model ({builder_version})",
            allowed=f"a tag naming onnxruntime-genai {builder_version}, e.g. <name>:{builder_version}-cpu",
            hint=_override_hint(deployment)))
