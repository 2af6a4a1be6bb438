"""D12: a model-preparation image verifies everything it installs: the llama.cpp source by a fixed sha256, the
lock by its wheel hashes, torch by an exact version."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import commands, instructions, text_of
from slm_deploy.policies.model import Rule, Severity, Violation

PREPARATION_MARKS = ("slm-deploy model preparation", "convert_hf_to_gguf.py", "onnxruntime_genai")
"""Text only a model-preparation Dockerfile holds: its description label, llama.cpp's converter, the ONNX builder."""
FETCHERS = ("urlretrieve", "curl", "wget")
FIXED_SHA256 = re.compile(r"\b[0-9a-f]{64}\b.*\|\s*sha256sum\s+(?:-c|--check)\b")
"""A literal digest piped into `sha256sum -c`: the check a mirror or a changed URL cannot satisfy with other bytes."""
TORCH = re.compile(r"^torch(?:$|[^a-zA-Z0-9_.-])")
PINNED_TORCH = re.compile(r"^torch==\d+(?:\.\d+)*$")


def is_preparation(dockerfile) -> bool:
    """Whether the Dockerfile builds a model-preparation image."""
    return any(mark in text_of(i) or mark in str(i.get("value") or "")
               for i in instructions(dockerfile) for mark in PREPARATION_MARKS)


def _pip_installs(run) -> list[list[str]]:
    """The `pip install` commands of a RUN (pip, pip3, a venv's pip or python -m pip)."""
    found = []
    for words in commands(run):
        for index, word in enumerate(words[:-1]):  # `python3 -m pip install` has the word pip too
            if word.rsplit("/", 1)[-1] in ("pip", "pip3") and words[index + 1] == "install":
                found.append(words[index + 2:])
                break
    return found


def check(dockerfile, ctx):
    """Yield a violation per unverified download, hash-less lock install or unpinned torch of a preparation image."""
    if not is_preparation(dockerfile):
        return
    for run in instructions(dockerfile, "RUN"):
        text, line = text_of(run), run.get("line")
        if any(fetcher in text for fetcher in FETCHERS) and not FIXED_SHA256.search(text):
            yield Violation("RUN downloads a file without checking it against a fixed sha256 (sha256sum -c)", line)
        for args in _pip_installs(run):
            if any(a in ("-r", "--requirement") or a.startswith("--requirement=") for a in args) \
                    and "--require-hashes" not in args:
                yield Violation("pip installs a requirement file without --require-hashes", line)
            if any(TORCH.match(a.strip("'\"")) and not PINNED_TORCH.match(a.strip("'\"")) for a in args):
                yield Violation("pip installs torch without an exact version (torch==X.Y.Z)", line)


RULE = Rule(
    id="slm-docker-012",
    name="A model-preparation image checks the llama.cpp source by sha256, its lock by wheel hashes, torch by version.",
    severity=Severity.HIGH,
    controls=("D12",),
    kinds=frozenset({"Dockerfile"}),
    rationale="The preparation image parses untrusted checkpoints and writes the weights every replica serves: a "
              "source archive taken from a changed address or mirror without its fixed sha256, a lock installed "
              "without --require-hashes (any wheel of that name goes), or a floating torch puts code nobody "
              "reviewed between the hub and the served model.",
    remediation="Keep the rendered `sha256sum -c` of the llama.cpp archive (a mirror goes in the "
                "LLAMACPP_SDIST_URL build argument, not in the Dockerfile), `--require-hashes` on the torch lock "
                "and `--require-hashes --no-deps` on the package lock; re-render instead of editing docker/<name>-model-prep/.",
    benchmarks=(),
    check=check,
    tags=("dockerfile", "supply-chain", "model-preparation"),
)
