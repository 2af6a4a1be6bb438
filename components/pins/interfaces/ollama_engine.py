"""Which models Ollama runs on its own engine (runner/ollamarunner) and which Modelfile parameters that engine never
reads, from the Go source at the pinned tag.

llm/server.go starts the Ollama engine when OLLAMA_NEW_ENGINE is set or the model's GGUF architecture is in
fs/ggml/ggml.go's OllamaEngineRequired list, and the engine implements the architectures model/models registers.
A parameter is read by that engine when its Options or Runner field is used by the engine's runner, its sampler,
the scheduler and routes (server/), or llm/server.go outside the methods of the llama.cpp runner's server
(`*llamaServer`); the penalties and typical_p, read only by the llama.cpp runner, do nothing there.
"""

from __future__ import annotations

import re

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.artifacts import GitTree

GGML = "fs/ggml/ggml.go"
LLM_SERVER = "llm/server.go"
API_TYPES = "api/types.go"
ENGINE_FOLDERS = ("runner/ollamarunner", "sample", "server")
"""Where the Ollama engine's runner, its sampler and the server that loads and schedules models live."""
MODELS = "model/models"
ENGINE_SOURCES = f"{GGML}, {LLM_SERVER}, {', '.join(ENGINE_FOLDERS)} and {MODELS}"
"""What the engine facts are read from, as the record's artifact line names it."""
REQUIRED = re.compile(r"func \(kv KV\) OllamaEngineRequired\(\) bool \{(.*?)^\}", re.MULTILINE | re.DOTALL)
REGISTER = re.compile(r'\bmodel\.Register\("([^"]+)"')
OLD_RUNNER_METHOD = re.compile(r"^func \(\w+ \*llamaServer\) .*?^\}", re.MULTILINE | re.DOTALL)
STRUCT = re.compile(r"^type (Options|Runner) struct \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
FIELD = re.compile(r'^\s*(\w+)\s+\S+\s+`json:"([a-z_]+)[,"]', re.MULTILINE)


def engine_facts(tree: GitTree) -> dict[str, list[str]]:
    """The architectures that always run on the Ollama engine, those it can run when asked, and the parameters it
    ignores."""
    required = REQUIRED.search(tree.read(GGML))
    if required is None:
        raise RecordError(f"{GGML}: OllamaEngineRequired was not where expected")
    architectures = re.findall(r'"([^"]+)"', required.group(1))
    implemented = {name for path in tree.files(MODELS) if path.endswith(".go") and not path.endswith("_test.go")
                   for name in REGISTER.findall(tree.read(path))}
    if not architectures or not implemented:
        raise RecordError(f"{GGML} or {MODELS}: no architectures found")
    return {"engine_required": sorted(architectures), "engine_models": sorted(implemented),
            "engine_ignored_parameters": ignored_parameters(tree)}


def ignored_parameters(tree: GitTree) -> list[str]:
    """Modelfile parameters whose Go field no code of the Ollama engine's path reads."""
    fields = {go: json for _, body in STRUCT.findall(tree.read(API_TYPES)) for go, json in FIELD.findall(body)}
    if "Temperature" not in fields:
        raise RecordError(f"{API_TYPES}: the Options and Runner structs were not where expected")
    sources = [OLD_RUNNER_METHOD.sub("", tree.read(LLM_SERVER))]
    sources += [tree.read(path) for folder in ENGINE_FOLDERS for path in tree.files(folder)
                if path.endswith(".go") and not path.endswith("_test.go")]
    text = "\n".join(sources)
    return sorted(json for go, json in fields.items() if not re.search(rf"\.{go}\b", text))
