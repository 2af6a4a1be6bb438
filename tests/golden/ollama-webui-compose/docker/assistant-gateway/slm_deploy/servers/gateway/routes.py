"""Map request paths to a small fixed set of route labels, so metrics stay bounded."""

from __future__ import annotations

KNOWN_ROUTES = frozenset(
    {
        # OpenAI-compatible (vLLM, llama.cpp, Ollama /v1, ONNX and Foundry servers)
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/responses",
        "/v1/rerank",
        "/v1/score",
        "/v1/tokenize",
        "/v1/detokenize",
        "/v1/audio/transcriptions",
        # Ollama native
        "/api/chat",
        "/api/generate",
        "/api/embed",
        "/api/embeddings",
        "/api/tags",
        "/api/ps",
        "/api/show",
        "/api/version",
    }
)

# Routes whose streamed requests can be asked to report token usage.
OPENAI_GENERATION_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})


def route_label(path: str) -> str:
    """The metric label for a path: the path itself if known, else a family bucket."""
    if path in KNOWN_ROUTES:
        return path
    if path.startswith("/v1/models/"):
        return "/v1/models/{model}"
    if path.startswith("/v1/"):
        return "/v1/other"
    if path.startswith("/api/"):
        return "/api/other"
    return "other"
