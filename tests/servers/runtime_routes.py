"""Every route each runtime's own router serves, read from its source at the pinned version.

These are the judges' view (what a runtime would run), not the gateway's tables: a gateway table
lists the subset an inference key may reach, and everything else here is denied.
"""

from __future__ import annotations

GET, POST, HEAD, DELETE = "GET", "POST", "HEAD", "DELETE"

Universe = tuple[tuple[str, str], ...]
"""(method, pattern) pairs; '{name}' is one path segment, '{name:path}' the rest of the path."""

# ollama/ollama v0.24.0, server/routes.go GenerateRoutes (gin routes).
OLLAMA: Universe = (
    (HEAD, "/"), (GET, "/"), (HEAD, "/api/version"), (GET, "/api/version"), (GET, "/api/status"),
    (POST, "/api/pull"), (POST, "/api/push"), (HEAD, "/api/tags"), (GET, "/api/tags"), (POST, "/api/show"),
    (DELETE, "/api/delete"), (POST, "/api/me"), (POST, "/api/signout"), (DELETE, "/api/user/keys/{encodedKey}"),
    (POST, "/api/create"), (POST, "/api/blobs/{digest}"), (HEAD, "/api/blobs/{digest}"), (POST, "/api/copy"),
    (POST, "/api/experimental/web_search"), (POST, "/api/experimental/web_fetch"),
    (GET, "/api/experimental/model-recommendations"), (GET, "/api/ps"), (POST, "/api/generate"),
    (POST, "/api/chat"), (POST, "/api/embed"), (POST, "/api/embeddings"), (POST, "/v1/chat/completions"),
    (POST, "/v1/completions"), (POST, "/v1/embeddings"), (GET, "/v1/models"), (GET, "/v1/models/{model}"),
    (POST, "/v1/responses"), (POST, "/v1/images/generations"), (POST, "/v1/images/edits"),
    (POST, "/v1/audio/transcriptions"), (POST, "/v1/messages"),
)
# server/internal/registry/server.go Local.serveHTTP: these paths are handled before gin, any method.
OLLAMA_REGISTRY_PATHS = ("/api/delete", "/api/pull")

# vllm-project/vllm v0.26.0 OpenAI-compatible server (FastAPI routers), including development endpoints;
# the same endpoints as components/runtimes/interfaces/vllm.yaml (/v1/realtime is a WebSocket).
VLLM: Universe = (
    (GET, "/health"), (GET, "/ping"), (POST, "/ping"), (GET, "/version"), (GET, "/metrics"), (GET, "/load"),
    (GET, "/server_info"), (POST, "/invocations"), (GET, "/v1/models"), (POST, "/v1/chat/completions"),
    (POST, "/v1/completions"), (POST, "/v1/embeddings"), (POST, "/v1/responses"),
    (GET, "/v1/responses/{response_id}"), (POST, "/v1/responses/{response_id}/cancel"), (POST, "/v1/messages"),
    (POST, "/v1/messages/count_tokens"), (POST, "/v1/audio/transcriptions"), (POST, "/v1/audio/translations"),
    (POST, "/pooling"), (POST, "/classify"), (POST, "/score"), (POST, "/v1/score"), (POST, "/rerank"),
    (POST, "/v1/rerank"), (POST, "/v2/rerank"), (POST, "/v2/embed"), (POST, "/tokenize"), (POST, "/detokenize"),
    (POST, "/v1/load_lora_adapter"), (POST, "/v1/unload_lora_adapter"), (POST, "/sleep"), (POST, "/wake_up"),
    (GET, "/is_sleeping"), (POST, "/reset_prefix_cache"), (POST, "/collective_rpc"), (POST, "/scale_elastic_ep"),
    (POST, "/pause"), (POST, "/resume"), (POST, "/abort_requests"), (POST, "/init_weight_transfer_engine"),
    (POST, "/start_weight_update"), (POST, "/start_draft_weight_update"), (POST, "/update_weights"),
    (POST, "/finish_weight_update"), (GET, "/get_world_size"), (GET, "/is_paused"), (POST, "/is_scaling_elastic_ep"),
    (POST, "/reset_encoder_cache"), (POST, "/reset_mm_cache"), (POST, "/start_profile"), (POST, "/stop_profile"),
    (GET, "/tokenizer_info"), (POST, "/generative_scoring"), (POST, "/v1/chat/completions/batch"),
    (POST, "/v1/chat/completions/render"), (POST, "/v1/chat/completions/derender"),
    (POST, "/v1/completions/render"), (POST, "/v1/completions/derender"), (POST, "/inference/v1/generate"),
    (GET, "/docs"), (GET, "/static"), (GET, "/ready"), (GET, "/readyz"), (GET, "/v1/realtime"),
)

# ggml-org/llama.cpp b10133, tools/server/server.cpp (cpp-httplib routes).
LLAMACPP: Universe = (
    (GET, "/health"), (GET, "/v1/health"), (GET, "/metrics"), (GET, "/props"), (POST, "/props"), (GET, "/models"),
    (GET, "/v1/models"), (POST, "/models"), (POST, "/models/load"), (POST, "/models/unload"), (POST, "/completion"),
    (POST, "/completions"), (POST, "/v1/completions"), (POST, "/chat/completions"), (POST, "/v1/chat/completions"),
    (POST, "/v1/chat/completions/control"), (POST, "/v1/responses"), (POST, "/responses"),
    (POST, "/v1/audio/transcriptions"), (POST, "/audio/transcriptions"), (POST, "/v1/messages"), (POST, "/infill"),
    (POST, "/embedding"), (POST, "/embeddings"), (POST, "/v1/embeddings"), (POST, "/rerank"), (POST, "/reranking"),
    (POST, "/v1/rerank"), (POST, "/v1/reranking"), (POST, "/tokenize"), (POST, "/detokenize"),
    (POST, "/apply-template"), (POST, "/v1/messages/count_tokens"), (GET, "/lora-adapters"),
    (POST, "/lora-adapters"), (GET, "/slots"), (POST, "/slots/{id_slot}"), (GET, "/v1/stream/{conv_id}"),
    (DELETE, "/v1/stream/{conv_id}"), (POST, "/v1/streams/lookup"), (GET, "/cors-proxy"), (POST, "/tools"),
)

# This project's ONNX Runtime GenAI server (slm_deploy.servers.ortgenai.app).
ONNXRUNTIME: Universe = (
    (POST, "/v1/chat/completions"), (GET, "/v1/models"), (GET, "/v1/models/{model:path}"), (GET, "/health"),
    (GET, "/metrics"),
)

# Foundry Local REST API reference (learn.microsoft.com foundry-local/reference/reference-rest).
FOUNDRY_LOCAL: Universe = (
    (POST, "/v1/chat/completions"), (GET, "/v1/models"), (GET, "/openai/status"), (GET, "/openai/models"),
    (POST, "/openai/download"), (GET, "/openai/load/{model}"), (GET, "/openai/unload/{model}"),
    (GET, "/openai/loadedmodels"),
)

# ml-explore/mlx-lm 0.32.2, mlx_lm/server.py do_GET (/v1/models is a prefix there) and do_POST.
MLX: Universe = (
    (GET, "/health"), (GET, "/v1/models"), (GET, "/v1/models/{model:path}"), (POST, "/v1/completions"),
    (POST, "/v1/chat/completions"), (POST, "/chat/completions"),
)

UNIVERSES: dict[str, Universe] = {
    "ollama": OLLAMA, "vllm": VLLM, "llamacpp": LLAMACPP, "onnxruntime": ONNXRUNTIME, "foundry-local": FOUNDRY_LOCAL,
    "mlx": MLX,
}
