"""Ollama's record, read from its Go source at the pinned tag: env knobs from envconfig, routes from the router,
Modelfile parameters and their Go types from api/types.go, and which models run on Ollama's own engine and which
parameters it ignores (ollama_engine).

Ollama has no Prometheus endpoint, so the record lists no metrics. The source comes from a git mirror of
ollama/ollama (any clone that has the tag), read with `git show` at the tag.
"""

from __future__ import annotations

import re
from pathlib import Path

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import GitTree, mirror
from slm_deploy.pins.interfaces.ollama_engine import ENGINE_SOURCES, engine_facts

OWNER, NAME = "ollama", "ollama"
ENVCONFIG = "envconfig/config.go"
ROUTES = "server/routes.go"
DOCKERFILE = "Dockerfile"
API_TYPES = "api/types.go"
GO_MOD = "go.mod"
GO_DIRECTIVE = re.compile(r"^go\s+([0-9][0-9.]*)\s*$", re.MULTILINE)
PARAMETER_STRUCTS = ("Options", "Runner")
"""The structs whose json-tagged fields FormatParams accepts as Modelfile PARAMETER names (Options embeds Runner)."""
STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
FIELD = re.compile(r'^\s*\w+\s+(\S+)\s+`json:"([a-z_]+)[,"]', re.MULTILINE)
ENV_CALL = re.compile(r'\b(?:Var|String|Bool|BoolWithDefault|Uint|Uint64|Float|Duration)\(\s*"(OLLAMA_[A-Z0-9_]+|[A-Z][A-Z0-9_]+)"')
GETENV = re.compile(r'os\.(?:Getenv|LookupEnv)\(\s*"([A-Z][A-Z0-9_]+)"')
ROUTE = re.compile(r'\br\.(GET|POST|HEAD|DELETE|PUT|PATCH|Any)\(\s*"([^"]+)"')
DOCKER_ENV = re.compile(r"^ENV\s+([A-Z_][A-Z0-9_]*)=", re.MULTILINE)
DOCKER_USER = re.compile(r"^USER\s+(\S+)", re.MULTILINE)
DOCKER_ENTRYPOINT = re.compile(r'^ENTRYPOINT\s+\[(.*)\]\s*$', re.MULTILINE)
SOURCES = ("https://github.com/ollama/ollama/tree/{tag}",)
GO_BOOL = re.compile(r'=\s*(?:Bool|BoolWithDefault)\(\s*"([A-Z][A-Z0-9_]+)"\s*\)')
GO_UINT = re.compile(r'=\s*Uint(?:64)?\(\s*"([A-Z][A-Z0-9_]+)"\s*,')
GO_DURATION = re.compile(r'Var\("([A-Z][A-Z0-9_]+)"\); s != "" \{\s*if d, err := time\.ParseDuration\(s\); err == nil'
                         r'(?:(?!\nfunc ).)*?strconv\.ParseInt\(s, 10, 64\)', re.DOTALL)
NEVER_AT_ZERO = re.compile(r'if \w+ <= 0 \{\s*return time\.Duration\(math\.MaxInt64\)')
"""envconfig's typed readers: Bool (strconv.ParseBool, any other text reads as true), Uint and Uint64
(strconv.ParseUint, any other text reads as the default) and the duration readers (time.ParseDuration, else whole
seconds with strconv.ParseInt, else the default); a duration reader that turns 0 or less into the largest duration
(LoadTimeout) reads those as "never"."""
ACCESSOR = re.compile(r'^\s*(?:var\s+)?(\w+)\s*=\s*(?:Bool|BoolWithDefault|String|Uint|Uint64)\(\s*"([A-Z][A-Z0-9_]+)"',
                      re.MULTILINE)
FUNCTION = re.compile(r'^func (\w+)\(\)[^{\n]*\{\n(.*?)^\}', re.MULTILINE | re.DOTALL)
LISTINGS = ("AsMap", "Values")
"""envconfig functions that only list every variable (for `ollama serve --help` and the start-up log)."""
CLIENT_CODE = re.compile(r"^(cmd|app)/|(^|/)(cli|client)\.go$")
"""Where the interactive client, its launchers and the desktop app live: code `ollama serve` never runs."""


def derive(version: str, mirrors: Path) -> dict:
    """The ollama record for tag v<version> from a mirror of ollama/ollama under `mirrors`."""
    tag = "v" + version.removeprefix("v")
    git_dir = mirror(mirrors, OWNER, NAME)
    if git_dir is None:
        raise RecordError(f"no git mirror of {OWNER}/{NAME} under {mirrors}")
    tree = GitTree(git_dir, tag)
    commit = tree.commit()
    config, router, types = tree.read(ENVCONFIG), tree.read(ROUTES), tree.read(API_TYPES)
    dockerfile = final_stage(tree.read(DOCKERFILE))
    env = set(ENV_CALL.findall(config)) | set(GETENV.findall(config))
    endpoints = {_templated(path) for _, path in ROUTE.findall(router)}
    if "OLLAMA_HOST" not in env or "/api/tags" not in endpoints:
        raise RecordError(f"{OWNER}/{NAME}@{tag}: envconfig or the router were not where expected")
    image_env = set(DOCKER_ENV.findall(dockerfile))
    entrypoint = DOCKER_ENTRYPOINT.findall(dockerfile)
    user = (DOCKER_USER.findall(dockerfile) or ["root"])[-1]
    home = "/root" if user in ("root", "0") else f"/home/{user}"
    return {
        "runtime": "ollama", "version": version.removeprefix("v"), "pin": ["ollama"],
        "artifact": f"ollama/ollama source at tag {tag} (commit {commit}): {ENVCONFIG}, {ROUTES}, {API_TYPES}, "
                    f"{DOCKERFILE}, {GO_MOD}, {ENGINE_SOURCES}",
        "derived_by": __name__,
        "sources": [s.format(tag=tag) for s in SOURCES],
        "flags": [],
        "env": sorted(env | image_env),
        "metrics": [],
        "endpoints": sorted(endpoints),
        "image": {"user": user, "writable_paths": [f"{home}/.ollama"] if '".ollama"' in config else [],
                  "entrypoint": [p.strip().strip('"') for p in entrypoint[-1].split(",")] if entrypoint else []},
        "parameters": parameters(types),
        "env_values": env_values(config),
        "client_env": client_env(tree, config),
        "go_version": go_directive(tree.read(GO_MOD)),
        **engine_facts(tree),
    }


def env_values(config: str) -> dict[str, str]:
    """Variable -> how envconfig parses it: gobool, uint64 or duration (the kinds value checks know)."""
    found = {name: "gobool" for name in GO_BOOL.findall(config)}
    found |= {name: "uint64" for name in GO_UINT.findall(config)}
    never = {name for name, body in _readers(config).items() if NEVER_AT_ZERO.search(body)}
    found |= {name: "duration-never-at-zero" if name in never else "duration" for name in GO_DURATION.findall(config)}
    return dict(sorted(found.items()))


def _readers(config: str) -> dict[str, str]:
    """Variable -> the body of the envconfig function that reads it with Var (empty for the typed constructors)."""
    found = {name: "" for _, name in ACCESSOR.findall(config)}
    for function, body in FUNCTION.findall(config):
        if function not in LISTINGS:
            found.update({name: body for name in re.findall(r'\bVar\("([A-Z][A-Z0-9_]+)"\)', body)})
    return found


def client_env(tree: GitTree, config: str) -> list[str]:
    """Variables only the client reads: every accessor of the variable is called from client code alone, and no
    other envconfig function calls it (NoCloud calls NoCloudEnv, so OLLAMA_NO_CLOUD also reaches the server)."""
    accessors: dict[str, set[str]] = {}
    for accessor, name in ACCESSOR.findall(config):
        accessors.setdefault(name, set()).add(accessor)
    for function, body in FUNCTION.findall(config):
        if function not in LISTINGS:
            for name in re.findall(r'\bVar\("([A-Z][A-Z0-9_]+)"\)', body):
                accessors.setdefault(name, set()).add(function)
    inside = config
    for function, body in FUNCTION.findall(config):
        inside = inside.replace(body, "") if function in LISTINGS else inside
    client = []
    for name, functions in sorted(accessors.items()):
        callers = [path for function in functions for path in tree.grep(rf"envconfig\.{function}\(", "*.go")
                   if not path.endswith("_test.go")]
        internal = any(re.search(rf"(?<!func )\b{function}\(", inside) for function in functions)
        if callers and not internal and all(CLIENT_CODE.search(path) for path in callers):
            client.append(name)
    return client


def parameters(api_types: str) -> dict[str, str]:
    """Modelfile PARAMETER name -> the Go type FormatParams parses it as (int, float32, *bool, []string)."""
    structs = dict(STRUCT.findall(api_types))
    found = {name: kind for struct in PARAMETER_STRUCTS for kind, name in FIELD.findall(structs.get(struct, ""))}
    if "num_ctx" not in found or "temperature" not in found:
        raise RecordError(f"{API_TYPES}: the Options and Runner structs were not where expected")
    return found


def go_directive(go_mod: str) -> str:
    """The Go release go.mod asks for: its standard library's tables (strconv.IsPrint) are the ones Ollama has."""
    found = GO_DIRECTIVE.search(go_mod)
    if found is None:
        raise RecordError(f"{GO_MOD}: no go directive")
    return found.group(1)


def final_stage(dockerfile: str) -> str:
    """The instructions of the image's last stage (what the published image is), not of its build stages."""
    starts = [m.start() for m in re.finditer(r"^FROM\s", dockerfile, re.MULTILINE)]
    return dockerfile[starts[-1]:] if starts else dockerfile


def _templated(path: str) -> str:
    """gin's /api/blobs/:digest as /api/blobs/{digest}, the shared record notation."""
    return re.sub(r":([A-Za-z_]+)", r"{\1}", path)
