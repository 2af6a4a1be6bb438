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

    def __init__(
        self, name: str, routes: tuple[Route, ...], management: tuple[str, ...] = (),
        removed_fields: frozenset[str] = frozenset(), refused_fields: frozenset[str] = frozenset(),
        go_decoder: bool = False,
    ) -> None:
        self.name = name
        self.routes = routes
        self.management = management
        # Members of POST bodies that would make the runtime load another model: `removed_fields`
        # are dropped so it serves its default, a body naming `refused_fields` is refused.
        self.removed_fields = removed_fields
        self.refused_fields = refused_fields
        # The runtime decodes bodies with Go's encoding/json, which matches member names in any case.
        self.go_decoder = go_decoder
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


def _table(
    name: str, get: tuple[str, ...], post: tuple[str, ...], management: tuple[str, ...] = (), go_decoder: bool = False,
) -> RouteTable:
    routes = tuple(Route(p, GET) for p in get) + tuple(Route(p, POST) for p in post)
    return RouteTable(name, routes, management, go_decoder=go_decoder)


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
    go_decoder=True,
)

# vLLM 0.26.0 (entrypoints/*/api_router.py in the wheel): every endpoint of its interface record
# (components/runtimes/interfaces/vllm.yaml) is either served below or refused here, with why.
VLLM_DENIED: dict[str, str] = {
    "/abort_requests": "aborts running requests by id, anyone's",
    "/collective_rpc": "runs methods on the engine's workers",
    "/docs": "interactive API explorer, not an inference route",
    "/static": "assets of the API explorer",
    "/finish_weight_update": "weight transfer for RL training loops",
    "/get_world_size": "weight transfer for RL training loops",
    "/init_weight_transfer_engine": "weight transfer for RL training loops",
    "/start_weight_update": "weight transfer for RL training loops",
    "/start_draft_weight_update": "weight transfer for RL training loops",
    "/update_weights": "weight transfer for RL training loops",
    "/inference/v1/generate": "token-in token-out API for disaggregated serving, not for clients",
    "/invocations": "SageMaker entry point that dispatches to any API and skips vLLM's own key check",
    "/ping": "SageMaker health alias; /health is the health route",
    "/ready": "readiness of the data-parallel supervisor only; /health is the health route",
    "/readyz": "readiness of the data-parallel supervisor only; /health is the health route",
    "/is_paused": "engine control state",
    "/is_scaling_elastic_ep": "engine control state",
    "/is_sleeping": "engine control state",
    "/pause": "engine control",
    "/resume": "engine control",
    "/sleep": "engine control",
    "/wake_up": "engine control",
    "/scale_elastic_ep": "engine control",
    "/reset_encoder_cache": "engine control",
    "/reset_mm_cache": "engine control",
    "/reset_prefix_cache": "engine control",
    "/start_profile": "profiler control",
    "/stop_profile": "profiler control",
    "/load": "server load counter for load balancers",
    "/metrics": "runtime metrics stay inside; the gateway exports its own",
    "/server_info": "discloses the server's configuration",
    "/version": "names the runtime's version",
    "/tokenizer_info": "the tokenizer's whole configuration; /tokenize and /detokenize serve clients",
    "/v1/load_lora_adapter": "loads model weights",
    "/v1/unload_lora_adapter": "unloads model weights",
    "/v1/chat/completions/render": "development helper (prompt rendering)",
    "/v1/chat/completions/derender": "development helper (prompt rendering)",
    "/v1/completions/render": "development helper (prompt rendering)",
    "/v1/completions/derender": "development helper (prompt rendering)",
    "/v1/realtime": "WebSocket, which the gateway does not relay",
    "/v1/responses/{response_id}": "stored responses are not scoped to a key: any key could read one by id",
    "/v1/responses/{response_id}/cancel": "stored responses are not scoped to a key: any key could cancel one by id",
    "/rerank": "unversioned alias of /v1/rerank",
    "/score": "unversioned alias of /v1/score",
}

VLLM = _table(
    "vllm",
    get=("/health", "/v1/models"),
    post=(
        "/v1/chat/completions", "/v1/chat/completions/batch", "/v1/completions", "/v1/embeddings",
        "/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/v1/audio/transcriptions",
        "/v1/audio/translations", "/v1/rerank", "/v1/score", "/tokenize", "/detokenize", "/classify", "/pooling",
        "/generative_scoring", "/v2/embed", "/v2/rerank",
    ),
    management=tuple(VLLM_DENIED),
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

# mlx-lm 0.32.2's server.py: do_GET's /health and do_POST's two completion factories. Its /v1/models
# lists the account's Hugging Face cache and the served folder's absolute path, so it is refused; and
# do_POST loads any local folder a body names in `model`, `adapters` or `draft_model`.
MLX = RouteTable(
    "mlx",
    (Route("/health", GET), Route("/v1/chat/completions", POST), Route("/v1/completions", POST)),
    management=("/v1/models", "/v1/models/{model:path}"),
    removed_fields=frozenset({"model"}),
    refused_fields=frozenset({"adapters", "draft_model"}),
)

TABLES: dict[str, RouteTable] = {t.name: t for t in (OLLAMA, VLLM, LLAMACPP, ONNXRUNTIME, FOUNDRY_LOCAL, MLX)}
