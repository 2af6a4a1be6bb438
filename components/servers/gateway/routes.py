"""What each runtime serves to an inference key: exact route tables, matched on the canonical path.

A table lists the inference routes of one runtime, read from its own router at the pinned
version. Everything else is refused: model management and account routes with 403, any other
path with 404. Matching is exact and case-sensitive, which is safe whatever a runtime does with
case: only the listed spellings pass, and they are forwarded as listed.
"""

from __future__ import annotations

from dataclasses import dataclass

GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})

# Routes whose streamed requests can be asked to report token usage.
OPENAI_GENERATION_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})

UNMATCHED_LABEL = "other"


@dataclass(frozen=True)
class Route:
    """One route: a path pattern ('{name}' is one segment, '{name:path}' the rest) and its methods.

    The pattern doubles as the metric label, so labels stay bounded whatever clients send.
    """

    pattern: str
    methods: frozenset[str]

    @property
    def segments(self) -> tuple[str, ...]:
        """The pattern split into its segments."""
        return tuple(self.pattern.split("/")[1:])


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    for index, part in enumerate(pattern):
        if part.endswith(":path}"):
            return len(path) > index and all(path[index:])
        if index >= len(path) or not path[index]:
            return False
        if not part.startswith("{") and part != path[index]:
            return False
    return len(path) == len(pattern)


class RouteTable:
    """The routes one runtime serves to inference keys, and its management routes (refused with 403)."""

    def __init__(self, name: str, routes: tuple[Route, ...], management: tuple[str, ...] = ()) -> None:
        self.name = name
        self.routes = routes
        self.management = management
        self._exact = {r.pattern: r for r in routes if "{" not in r.pattern}
        self._templated = tuple(r for r in routes if "{" in r.pattern)
        self._management_exact = frozenset(m for m in management if "{" not in m)
        self._management_templated = tuple(tuple(m.split("/")[1:]) for m in management if "{" in m)

    def match(self, path: str) -> Route | None:
        """The route a canonical path belongs to, if the runtime serves it to inference keys."""
        route = self._exact.get(path)
        if route is not None or not self._templated:
            return route
        segments = tuple(path.split("/")[1:])
        return next((r for r in self._templated if _matches(r.segments, segments)), None)

    def is_management(self, path: str) -> bool:
        """Whether a canonical path is one of the runtime's model-management or account routes."""
        if path in self._management_exact:
            return True
        segments = tuple(path.split("/")[1:])
        return any(_matches(pattern, segments) for pattern in self._management_templated)


def _table(name: str, get: tuple[str, ...], post: tuple[str, ...], management: tuple[str, ...] = ()) -> RouteTable:
    routes = tuple(Route(p, GET) for p in get) + tuple(Route(p, POST) for p in post)
    return RouteTable(name, routes, management)


# Ollama 0.24.0, server/routes.go GenerateRoutes (and server/internal/registry for pull/delete).
OLLAMA = _table(
    "ollama",
    get=("/", "/api/version", "/api/tags", "/api/ps", "/v1/models", "/v1/models/{model}"),
    post=(
        "/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/show",
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages",
        "/v1/audio/transcriptions", "/v1/images/generations", "/v1/images/edits",
    ),
    management=(
        "/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs/{digest}",
        "/api/me", "/api/signout", "/api/user/keys/{encodedKey}", "/api/experimental/web_search",
        "/api/experimental/web_fetch",
    ),
)

# vLLM 0.26 OpenAI-compatible server (FastAPI): the inference APIs, not the development,
# LoRA-loading or sleep endpoints, and not /invocations (which skips vLLM's own key check).
VLLM = _table(
    "vllm",
    get=("/health", "/v1/models"),
    post=(
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages",
        "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/rerank", "/v1/score", "/tokenize",
        "/detokenize",
    ),
    management=(
        "/v1/load_lora_adapter", "/v1/unload_lora_adapter", "/sleep", "/wake_up", "/reset_prefix_cache",
        "/collective_rpc", "/scale_elastic_ep", "/pause", "/resume",
    ),
)

# llama.cpp server b10133, tools/server/server.cpp: the /v1 APIs and tokenizer; not /props (POST
# changes settings), /slots (save and restore write files), /lora-adapters or /models/load.
LLAMACPP = _table(
    "llamacpp",
    get=("/health", "/v1/health", "/v1/models"),
    post=(
        "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens",
        "/v1/embeddings", "/v1/rerank", "/v1/audio/transcriptions", "/tokenize", "/detokenize",
    ),
    management=("/props", "/slots", "/slots/{id_slot}", "/lora-adapters", "/models", "/models/load", "/models/unload"),
)

# The ONNX Runtime GenAI server this project ships (slm_deploy.servers.ortgenai.app).
ONNXRUNTIME = _table(
    "onnxruntime",
    get=("/health", "/v1/models", "/v1/models/{model:path}"),
    post=("/v1/chat/completions",),
)

# Foundry Local's OpenAI-compatible REST API; its /openai/* routes load and download models.
FOUNDRY_LOCAL = _table(
    "foundry-local",
    get=("/v1/models",),
    post=("/v1/chat/completions",),
    management=("/openai/download", "/openai/load/{model}", "/openai/unload/{model}"),
)

TABLES: dict[str, RouteTable] = {t.name: t for t in (OLLAMA, VLLM, LLAMACPP, ONNXRUNTIME, FOUNDRY_LOCAL)}
