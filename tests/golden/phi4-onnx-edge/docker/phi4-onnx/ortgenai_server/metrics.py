"""Prometheus metrics of the server, kept in a registry per application so instances never collide."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "ortgenai"
KNOWN_ROUTES = ("/v1/chat/completions", "/v1/models", "/health", "/metrics")
OTHER_ROUTE = "other"

REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
FIRST_TOKEN_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TOKEN_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


def route_label(path: str) -> str:
    """Map a request path to a bounded label set, so unknown URLs cannot blow up cardinality."""
    if path in KNOWN_ROUTES:
        return path
    if path.startswith("/v1/models/"):
        return "/v1/models/{model}"
    return OTHER_ROUTE


class ServerMetrics:
    """Every metric the server exports, named `ortgenai_*`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        reg = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests", "HTTP requests answered, by route and status code.",
            ["route", "status"], registry=reg,
        )
        self.request_seconds = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response (streams included).",
            ["route"], buckets=REQUEST_SECONDS_BUCKETS, registry=reg,
        )
        self.first_token_seconds = Histogram(
            f"{PREFIX}_time_to_first_token_seconds",
            "Time from receiving a chat completion request to its first generated token (queueing included).",
            buckets=FIRST_TOKEN_SECONDS_BUCKETS, registry=reg,
        )
        self.token_seconds = Histogram(
            f"{PREFIX}_time_per_output_token_seconds",
            "Time to generate each token after the first.",
            buckets=TOKEN_SECONDS_BUCKETS, registry=reg,
        )
        self.prompt_tokens = Counter(
            f"{PREFIX}_prompt_tokens", "Prompt tokens processed.", registry=reg,
        )
        self.generation_tokens = Counter(
            f"{PREFIX}_generation_tokens", "Tokens generated.", registry=reg,
        )
        self.errors = Counter(
            f"{PREFIX}_errors", "Requests that ended in an error, by kind.", ["kind"], registry=reg,
        )
        self.in_flight = Gauge(
            f"{PREFIX}_requests_in_flight", "HTTP requests being handled now.", registry=reg,
        )
        self.waiting = Gauge(
            f"{PREFIX}_requests_waiting", "Chat completion requests waiting for a generation slot.", registry=reg,
        )
        self.running = Gauge(
            f"{PREFIX}_generations_running", "Generations holding a slot now.", registry=reg,
        )
        self.max_concurrency = Gauge(
            f"{PREFIX}_max_concurrency", "Generation slots configured.", registry=reg,
        )
        self.model_loaded = Gauge(
            f"{PREFIX}_model_loaded", "1 once the model is loaded and requests are served, else 0.", registry=reg,
        )
        self.model_load_seconds = Gauge(
            f"{PREFIX}_model_load_duration_seconds", "Time the model took to load.", registry=reg,
        )

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware counting requests, their status and duration, and those in flight."""

    def __init__(self, app, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_label(scope["path"])
        status = {"code": 500}

        async def send_recording_status(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_recording_status)
        except Exception:
            self.metrics.errors.labels(kind="internal").inc()
            raise
        finally:
            self.metrics.in_flight.dec()
            self.metrics.request_seconds.labels(route=route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route=route, status=str(status["code"])).inc()
