"""Serving: a host install keeps the safeguards the containers have: hash-locked packages, no download run by a shell,
and (MLX) a checkpoint fetched without its code, a prepared model checked against its record before the server
starts, and no browser origin allowed to read the server's answers."""

from __future__ import annotations

import plistlib
import re
import shlex

from slm_deploy.policies.model import Rule, Severity
from slm_deploy.spec.mlx_layout import LABEL_PREFIX, agent_arguments
from slm_deploy.spec.model_records import CHECKPOINT_FILES

PIPED_DOWNLOAD = re.compile(
    r"\b(curl|wget)\b[^\n]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+)?\S*\b(sh|bash|zsh|dash|ksh|python3?|perl)\b"
    r"|\b(sh|bash|zsh|dash|ksh)\s+(-c\s+)?[\"']?(\$\(|<\()\s*(curl|wget)\b")
"""A download handed to an interpreter without being checked (`curl ... | sh`, `sh -c "$(curl ...)"`)."""
LOCKED_LINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^\s=;]+( --hash=sha256:[0-9a-f]{64})+")
"""One requirement of a hash lock: a name at one version with the sha256 of its files, and nothing else."""
PIP_INSTALL = re.compile(r"\bpip3?(\.\d+)?[\"']?\s+install\b|-m\s+pip\s+install\b")
PIP_CHECK = re.compile(r"\bpip3?(\.\d+)?[\"']?\s+check\b|-m\s+pip\s+check\b")
LOCKED_INSTALL = ("--require-hashes", "--no-deps")
MODEL_RECORD_CHECKS = {
    "its provenance (cmp against PROVENANCE)": re.compile(r"\bcmp\b[^\n]*\bPROVENANCE\b[^\n]*\bexit\b"),
    "its files' sha256 (--check against SHA256SUMS)": re.compile(r"--check\b[^\n]*\bSHA256SUMS\b[^\n]*\bexit\b"),
    "that it holds no file the record does not list": re.compile(r"\buniq -u\b[^\n]*\bexit\b"),
}
"""What serve.sh checks of the prepared model before mlx_lm.server starts, each ending the script when it fails."""
HUB_DOWNLOAD = re.compile(r"\bhf\"?\s+download\b")
NO_ORIGIN = re.compile(r"--allowed-origins[ =](''|\"\")(\s|$)")


def _logical_lines(script: str) -> list[str]:
    """The script's lines with backslash continuations joined."""
    return script.replace("\\\n", " ").splitlines()


def _requirements(text: str):
    """Yield one violation per requirement line that is not pinned to one version with its hashes."""
    unlocked = [line for line in (raw.split(" #", 1)[0].strip() for raw in text.splitlines())
                if line and not line.startswith("#") and not LOCKED_LINE.fullmatch(line)]
    if unlocked:
        yield (f"requirements.txt has {len(unlocked)} line(s) that are not a package at one version (==) with the "
               "sha256 of its files (--hash), or that add an index or another source")


def _pip_installs(lines: list[str]):
    """Yield one violation per pip install that resolves beyond a hash lock, and one when pip check never follows."""
    installs = [n for n, line in enumerate(lines) if PIP_INSTALL.search(line)]
    for n in installs:
        missing = [option for option in LOCKED_INSTALL if option not in lines[n].split()]
        if missing:
            yield f"a pip install runs without {' and '.join(missing)}: packages are not held to the hash lock"
    if installs and not any(PIP_CHECK.search(line) for line in lines[installs[-1] + 1:]):
        yield "no `pip check` follows the --no-deps install, so a missing or conflicting dependency goes unnoticed"


def _mlx_server(lines: list[str]):
    """Yield a violation per safeguard serve.sh dropped before, or on, the line that starts mlx_lm.server."""
    start = next(n for n, line in enumerate(lines) if "mlx_lm.server" in line and not line.lstrip().startswith("#"))
    before = "\n".join(line for line in lines[:start] if not line.lstrip().startswith("#"))
    for what, pattern in MODEL_RECORD_CHECKS.items():
        if not pattern.search(before):
            yield f"serve.sh starts mlx_lm.server without first checking the prepared model's {what}"
    if not NO_ORIGIN.search(lines[start]):
        yield "serve.sh starts mlx_lm.server without --allowed-origins '': any web page may read its answers"


def _included(line: str) -> list[str] | None:
    """The --include patterns of one download line, or None when the line does not split as shell words."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    patterns = [value for option, value in zip(words, words[1:]) if option == "--include"]
    return patterns + [word.removeprefix("--include=") for word in words if word.startswith("--include=")]


def _downloads(code: list[str]):
    """Yield a violation per hub download whose --include patterns are not exactly the checkpoint allow-list."""
    for line in (line for line in code if HUB_DOWNLOAD.search(line)):
        patterns = _included(line)
        if not patterns:
            yield ("prepare.sh downloads the whole repository (no --include allow-list): its code and pickled "
                   "weights come too, and mlx-lm copies its top-level *.py beside the served weights")
        elif sorted(set(patterns)) != sorted(CHECKPOINT_FILES):
            yield ("prepare.sh downloads with --include patterns other than the checkpoint allow-list ("
                   f"{' '.join(CHECKPOINT_FILES)}): code or pickled weights may come too")


AGENT_PARTS = ("server", "gateway")


def _agent(text: str):
    """Yield a violation when a launchd agent of an MLX install runs anything but its rendered program."""
    try:
        document = plistlib.loads(text.encode("utf-8"))
    except (plistlib.InvalidFileException, ValueError):
        yield "the launchd agent is not a property list launchd can read"
        return
    label = str(document.get("Label", "")) if isinstance(document, dict) else ""
    service, _, part = label.removeprefix(f"{LABEL_PREFIX}.").rpartition(".")
    if not label.startswith(f"{LABEL_PREFIX}.") or not service or part not in AGENT_PARTS:
        yield f"the launchd agent names no slm-deploy server or gateway ({LABEL_PREFIX}.<service>.server|gateway)"
        return
    if document.get("Program") is not None or document.get("ProgramArguments") != agent_arguments(service, part):
        what = "serve.sh, which checks the prepared model first" if part == "server" else "the gateway module"
        yield f"the launchd {part} agent runs another program than {what} (ProgramArguments)"


def check(manifest, ctx):
    """Yield one violation per safeguard the host script or lock lost."""
    script, name = str(manifest.get("script", "")), manifest.get("file")
    if name == "requirements.txt":
        yield from _requirements(script)
        return
    if str(name).endswith(".plist"):
        yield from _agent(script)
        return
    lines = _logical_lines(script)
    code = [line for line in lines if not line.lstrip().startswith("#")]
    if any(PIPED_DOWNLOAD.search(line) for line in code):
        yield f"{name or 'the script'} hands a download to an interpreter without checking its sha256"
    yield from _pip_installs(code)
    if name == "serve.sh" and any("mlx_lm.server" in line for line in code):
        yield from _mlx_server(lines)
    if name == "prepare.sh":
        yield from _downloads(code)


RULE = Rule(
    id="slm-serving-014",
    name="Host installs keep their safeguards: hash-locked packages, no piped downloads, a checked model.",
    severity=Severity.HIGH,
    controls=("S-host-safeguards",),
    kinds=frozenset({"HostInstall"}),
    rationale="A host install runs as root once and serves as the user's account after; the container targets "
              "install a hash lock, fetch only configs, tokenizers and safetensors, check the prepared model "
              "against its record before serving, and the MLX server otherwise lets any web page read its answers.",
    remediation="Render the host bundle again: requirements.txt is the hash lock installed with --require-hashes "
                "--no-deps and checked with pip check; prepare.sh downloads with --include; serve.sh checks "
                "PROVENANCE and SHA256SUMS, then starts mlx_lm.server with --allowed-origins ''; the launchd agents run "
                "serve.sh and the gateway, nothing else.",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain", "integrity"),
)
