"""The gateway's Prometheus vocabulary: the same names and labels whatever runtime is behind it."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

NO_KEY = "none"
# Statuses counted under their own `status` label: every status the gateway answers with itself, 499 for a client
# that left, and what runtimes commonly send. Any other status a runtime sends is counted under its class ("2xx",
# "4xx", "5xx"), so the runtime cannot add series.
OWN_STATUS_LABELS = frozenset({
    200, 201, 202, 204, 206, 400, 401, 403, 404, 405, 408, 409, 413, 415, 417, 422, 429, 431, 499,
    500, 501, 502, 503, 504,
})


def status_label(status: int) -> str:
    """The `status` label of a response: the code itself when it is in the fixed set, else its class."""
    return str(status) if status in OWN_STATUS_LABELS else f"{status // 100}xx"


@dataclass(frozen=True)
class ExchangeSeries:
    """The labelled series one route and key id update, looked up once instead of on every request."""

    ttft: Histogram
    duration: Histogram
    input_tokens: Counter
    output_tokens: Counter


class GatewayMetrics:
    """Counters, gauges and histograms in one private registry (no process-wide state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "slm_gateway_requests", "Requests answered, by route, HTTP status and key id.",
            ("route", "status", "key_id"), registry=r,
        )
        self.rejections = Counter(
            "slm_gateway_rejections", "Requests the gateway refused itself, by reason and key id.",
            ("reason", "key_id"), registry=r,
        )
        self.duration = Histogram(
            "slm_gateway_request_duration_seconds",
            "Time from request received to last response byte sent, for forwarded requests.",
            ("route", "key_id"), buckets=LATENCY_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            "slm_gateway_time_to_first_token_seconds",
            "Time from the whole request received and sent to the runtime to its first streamed body chunk.",
            ("route", "key_id"), buckets=TTFT_BUCKETS, registry=r,
        )
        self.input_tokens = Counter(
            "slm_gateway_input_tokens", "Prompt tokens the runtime reported (usage.prompt_tokens, prompt_eval_count).",
            ("route", "key_id"), registry=r,
        )
        self.output_tokens = Counter(
            "slm_gateway_output_tokens", "Generated tokens the runtime reported (usage.completion_tokens, eval_count).",
            ("route", "key_id"), registry=r,
        )
        self.in_flight = Gauge(
            "slm_gateway_in_flight_requests", "Requests being forwarded to the runtime now.",
            ("key_id",), registry=r,
        )
        self.queued = Gauge(
            "slm_gateway_queued_requests", "Requests waiting in the gateway for a concurrency slot.",
            ("key_id",), registry=r,
        )
        self.upstream_waiting = Gauge(
            "slm_gateway_upstream_waiting_requests",
            "Requests held while no runtime accepts connections (a runtime scaled to zero wakes on this).",
            registry=r,
        )
        self.upstream_errors = Counter(
            "slm_gateway_upstream_errors", "Runtime connections that failed or timed out, by reason.",
            ("reason",), registry=r,
        )
        self.open_connections = Gauge(
            "slm_gateway_open_connections", "Client connections open on the public port.", registry=r,
        )
        self.body_bytes_reserved = Gauge(
            "slm_gateway_request_body_bytes_reserved",
            "Request-body bytes reserved against max_in_flight_body_bytes by requests in progress.", registry=r,
        )
        self.usage_copy_bytes_reserved = Gauge(
            "slm_gateway_usage_copy_bytes_reserved",
            "Bytes of non-streamed answers copied to read their usage, against limits.max_usage_copy_bytes.",
            registry=r,
        )
        self.stream_buffered_bytes = Gauge(
            "slm_gateway_relay_buffered_bytes",
            "Bytes of answers being relayed that the gateway holds now: the runtime's body not relayed yet and what "
            "clients have not read from their connections.", registry=r,
        )
        self.usage_unread = Counter(
            "slm_gateway_usage_unread",
            "Answers relayed without reading their token counts, by reason (too_large: over 8 MiB; copy_budget: "
            "max_usage_copy_bytes was in use; client_closed: the client left before the counts arrived) and key id.",
            ("reason", "key_id"), registry=r,
        )
        self.log_write_errors = Counter(
            "slm_gateway_log_write_errors",
            "Log lines lost because stdout refused them (a log collector gone, a full pipe); requests go on.",
            registry=r,
        )
        self.keys_loaded = Gauge("slm_gateway_keys_loaded", "API keys currently accepted.", registry=r)
        self.key_reloads = Counter(
            "slm_gateway_key_file_reloads", "Key file loads, by result (loaded or error).", ("result",), registry=r,
        )
        self.key_reloads.labels("loaded")
        self.key_reloads.labels("error")
        self._series: dict[tuple[str, str], ExchangeSeries] = {}
        self._answered: dict[tuple[str, str, str], Counter] = {}
        self._in_flight: dict[str, Gauge] = {}

    def series(self, route: str, key_id: str) -> ExchangeSeries:
        """The series for this route and key id (both bounded: the route table's patterns, the key file's ids)."""
        found = self._series.get((route, key_id))
        if found is None:
            found = self._series[route, key_id] = ExchangeSeries(
                self.ttft.labels(route, key_id), self.duration.labels(route, key_id),
                self.input_tokens.labels(route, key_id), self.output_tokens.labels(route, key_id),
            )
        return found

    def answered(self, route: str, status: int, key_id: str) -> Counter:
        """The requests counter of one route, status and key id, looked up once."""
        label = status_label(status)
        found = self._answered.get((route, label, key_id))
        if found is None:
            found = self._answered[route, label, key_id] = self.requests.labels(route, label, key_id)
        return found

    def in_flight_for(self, key_id: str) -> Gauge:
        """The in-flight gauge of one key id, looked up once."""
        found = self._in_flight.get(key_id)
        if found is None:
            found = self._in_flight[key_id] = self.in_flight.labels(key_id)
        return found
