"""D12: a model-preparation image verifies everything it installs: the llama.cpp source by a fixed sha256, the
locks (torch's too) by their wheel hashes, nothing fetched unchecked."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import commands, flag_values, instructions, text_of
from slm_deploy.policies.model import Rule, Severity, Violation

PREPARATION_MARKS = ("slm-deploy model preparation", "convert_hf_to_gguf.py", "onnxruntime_genai")
"""Text only a model-preparation Dockerfile holds: its description label, llama.cpp's converter, the ONNX builder."""
FETCHES = re.compile(r"\b(?:urlretrieve|urlopen|curl|wget)\b|\bgit\s+(?:clone|fetch|pull|submodule)\b")
"""Commands that bring bytes from the network other than pip (whose lock carries its own hashes)."""
FIXED_SHA256 = re.compile(r"\b[0-9a-f]{64}\b[^|]*\|\s*sha256sum\s+(?:-c|--check)\b[^&;|]*(?P<after>\|\|)?")
"""A literal digest piped into `sha256sum -c`: the check a mirror or a changed URL cannot satisfy with other bytes
(unless its failure is swallowed by `||`)."""
ADD_CHECKSUM = re.compile(r"--checksum=sha256:[0-9a-f]{64}\b")
REMOTE_SOURCE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|\$)")
"""An ADD source fetched at build time: a URL, a git address or a build argument that names one."""
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


def checks_fixed_sha256(text: str) -> bool:
    """Whether the text pipes a literal digest into `sha256sum -c` and lets its failure stop the build."""
    return any(match.group("after") is None for match in FIXED_SHA256.finditer(text))


def _requirement_file(args: list[str]) -> bool:
    """Whether pip is given a requirement file (-r FILE, -rFILE, --requirement FILE or --requirement=FILE)."""
    return any(a in ("-r", "--requirement") or a.startswith("--requirement=") or (a.startswith("-r") and a[2:3] != "-"
                                                                                   and len(a) > 2) for a in args)


def _remote_adds(dockerfile):
    """Yield a violation per ADD that fetches a URL, git address or build argument without a fixed checksum."""
    for add in instructions(dockerfile, "ADD"):
        exec_form = add.get("json")
        words = [str(w) for w in exec_form] if isinstance(exec_form, list) else text_of(add).split()
        if any(REMOTE_SOURCE.match(w.strip("'\"")) for w in words[:-1]) \
                and not any(ADD_CHECKSUM.fullmatch(f"--checksum={v}") for v in flag_values(add, "checksum")):
            yield Violation("ADD fetches a remote source without a fixed sha256 (--checksum=sha256:...)", add.get("line"))


def check(dockerfile, ctx):
    """Yield a violation per unverified download, hash-less pip install or unpinned torch of a preparation image."""
    if not is_preparation(dockerfile):
        return
    yield from _remote_adds(dockerfile)
    for run in instructions(dockerfile, "RUN"):
        text, line = text_of(run), run.get("line")
        if FETCHES.search(text) and not checks_fixed_sha256(text):
            yield Violation("RUN downloads a file without checking it against a fixed sha256 (sha256sum -c)", line)
        for args in _pip_installs(run):
            if "--require-hashes" not in args:
                what = "a requirement file" if _requirement_file(args) else "packages"
                yield Violation(f"pip installs {what} without --require-hashes", line)
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
                "and `--require-hashes --no-deps` on the package lock, and no other fetch or pip install; re-render instead of editing docker/<name>-model-prep/.",
    benchmarks=(),
    check=check,
    tags=("dockerfile", "supply-chain", "model-preparation"),
)
