"""Every runtime's raw metric names, and the one vocabulary (`slm:*`) the recording rules map them to.

This module is the single table of raw names: recording rules, rule tests and dashboards read it, and it
can be checked against each runtime's interface record. Sources, per runtime:
- vLLM: the names the pinned release exports (components/runtimes/interfaces/vllm.yaml, derived from its wheel),
  and the spellings earlier releases exported before renaming them (`gpu_cache_usage_perc`,
  `time_per_output_token_seconds`), marked `older_releases`.
- llama.cpp: the names the pinned llama-server build exports (components/runtimes/interfaces/llamacpp.yaml); it has
  no KV-cache usage metric, so dashboards and runbooks say so instead of showing an empty series.
- ONNX Runtime GenAI: `slm_deploy.servers.ortgenai.metrics`; the gateway: `slm_deploy.servers.gateway.metrics`.
- Ollama and Foundry Local export no metrics: only the gateway measures them.
Colon names also arrive with underscores (OpenTelemetry and some managed scrapers rewrite `:`), so every
colon name is matched in both spellings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "histogram", "counter_pair"]
Prefer = Literal["runtime", "gateway"]

GATEWAY_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
GATEWAY_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ORTGENAI_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ORTGENAI_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
VLLM_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                     20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                        240.0, 480.0, 960.0, 1920.0, 7680.0)
INFERENCE_ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/api/chat",
                    "/api/generate", "/api/embed", "/api/embeddings")
"""Gateway routes that are inference requests; health, model lists and refusals of unknown paths are not."""
_ROUTES = "|".join(INFERENCE_ROUTES)


@dataclass(frozen=True)
class RawMetric:
    """One metric as a runtime exposes it (counters with their `_total`, histograms by base name)."""

    name: str
    kind: Kind
    matchers: str = ""
    """Extra label matchers, e.g. `status=~"5.."`."""
    buckets: tuple[float, ...] = ()
    """Default bucket bounds of a histogram, for SLO thresholds (le) that exist in the exposition."""
    count_name: str = ""
    """The token counter of a counter_pair, whose seconds counter is `name`."""
    older_releases: bool = False
    """A spelling only releases before the pinned one export (renamed since): the rules keep reading it, so a
    deployment that overrides the image with an older release feeds the same `slm:*` series."""

    def spellings(self) -> tuple[RawMetric, ...]:
        """The metric as exposed, then with `:` rewritten to `_` when the name has colons."""
        if ":" not in self.name:
            return (self,)
        underscored = RawMetric(self.name.replace(":", "_"), self.kind, self.matchers, self.buckets,
                                self.count_name.replace(":", "_"))
        return (self, underscored)


@dataclass(frozen=True)
class Signal:
    """One normalised series: what it means, how raw series combine, and which source wins when both exist."""

    name: str
    kind: Kind
    help: str
    unit: str
    aggregate: Literal["sum", "max"] = "sum"
    prefer: Prefer = "runtime"


SIGNALS: tuple[Signal, ...] = (
    Signal("requests_running", "gauge", "Requests being processed now", "short"),
    Signal("requests_waiting", "gauge", "Requests queued for a slot", "short"),
    Signal("kv_cache_usage", "gauge", "Share of the KV cache in use (0-1)", "percentunit", aggregate="max"),
    Signal("time_to_first_token_seconds", "histogram", "Time to first token", "s", prefer="gateway"),
    Signal("time_per_output_token_seconds", "histogram", "Time per output token after the first", "s"),
    Signal("request_duration_seconds", "histogram", "End-to-end request latency", "s", prefer="gateway"),
    Signal("generated_tokens", "counter", "Generated tokens per second", "short"),
    Signal("prompt_tokens", "counter", "Prompt tokens per second", "short"),
    Signal("requests", "counter", "Inference requests per second", "reqps", prefer="gateway"),
    Signal("request_errors", "counter", "Inference requests failing with a server error per second", "reqps",
           prefer="gateway"),
    Signal("requests_throttled", "counter", "Inference requests refused with 429 per second", "reqps",
           prefer="gateway"),
)
SIGNAL_BY_NAME = {s.name: s for s in SIGNALS}

RUNTIME_METRICS: dict[str, dict[str, tuple[RawMetric, ...]]] = {
    "vllm": {
        "requests_running": (RawMetric("vllm:num_requests_running", "gauge"),),
        "requests_waiting": (RawMetric("vllm:num_requests_waiting", "gauge"),),
        "kv_cache_usage": (RawMetric("vllm:kv_cache_usage_perc", "gauge"),
                           RawMetric("vllm:gpu_cache_usage_perc", "gauge", older_releases=True)),
        "time_to_first_token_seconds": (RawMetric("vllm:time_to_first_token_seconds", "histogram",
                                                  buckets=VLLM_TTFT_BUCKETS),),
        "time_per_output_token_seconds": (RawMetric("vllm:inter_token_latency_seconds", "histogram"),
                                          RawMetric("vllm:time_per_output_token_seconds", "histogram",
                                                    older_releases=True)),
        "request_duration_seconds": (RawMetric("vllm:e2e_request_latency_seconds", "histogram",
                                               buckets=VLLM_LATENCY_BUCKETS),),
        "generated_tokens": (RawMetric("vllm:generation_tokens_total", "counter"),),
        "prompt_tokens": (RawMetric("vllm:prompt_tokens_total", "counter"),),
        "requests": (RawMetric("vllm:request_success_total", "counter"),),
        "request_errors": (RawMetric("http_requests_total", "counter", 'status=~"5..",handler=~"/v1/.*"'),),
    },
    "llamacpp": {
        "requests_running": (RawMetric("llamacpp:requests_processing", "gauge"),),
        "requests_waiting": (RawMetric("llamacpp:requests_deferred", "gauge"),),
        "time_per_output_token_seconds": (RawMetric("llamacpp:tokens_predicted_seconds_total", "counter_pair",
                                                    count_name="llamacpp:tokens_predicted_total"),),
        "generated_tokens": (RawMetric("llamacpp:tokens_predicted_total", "counter"),),
        "prompt_tokens": (RawMetric("llamacpp:prompt_tokens_total", "counter"),),
    },
    "onnxruntime": {
        "requests_running": (RawMetric("ortgenai_generations_running", "gauge"),),
        "requests_waiting": (RawMetric("ortgenai_requests_waiting", "gauge"),),
        "time_to_first_token_seconds": (RawMetric("ortgenai_time_to_first_token_seconds", "histogram",
                                                  buckets=ORTGENAI_TTFT_BUCKETS),),
        "time_per_output_token_seconds": (RawMetric("ortgenai_time_per_output_token_seconds", "histogram"),),
        "request_duration_seconds": (RawMetric("ortgenai_request_duration_seconds", "histogram",
                                               'route="/v1/chat/completions"', buckets=ORTGENAI_LATENCY_BUCKETS),),
        "generated_tokens": (RawMetric("ortgenai_generation_tokens_total", "counter"),),
        "prompt_tokens": (RawMetric("ortgenai_prompt_tokens_total", "counter"),),
        "requests": (RawMetric("ortgenai_requests_total", "counter", 'route="/v1/chat/completions"'),),
        "request_errors": (RawMetric("ortgenai_requests_total", "counter",
                                     'route="/v1/chat/completions",status=~"5.."'),),
    },
    "ollama": {},
    "foundry-local": {},
}
"""Runtime -> signal -> raw metrics in order of preference."""
RUNTIME_TITLES = {"vllm": "vLLM", "llamacpp": "llama.cpp", "onnxruntime": "ONNX Runtime GenAI", "ollama": "Ollama",
                  "foundry-local": "Foundry Local"}

GATEWAY_METRICS: dict[str, tuple[RawMetric, ...]] = {
    "requests_running": (RawMetric("slm_gateway_in_flight_requests", "gauge"),),
    "requests_waiting": (RawMetric("slm_gateway_queued_requests", "gauge"),),
    "time_to_first_token_seconds": (RawMetric("slm_gateway_time_to_first_token_seconds", "histogram",
                                              buckets=GATEWAY_TTFT_BUCKETS),),
    "request_duration_seconds": (RawMetric("slm_gateway_request_duration_seconds", "histogram",
                                           f'route=~"{_ROUTES}"', buckets=GATEWAY_LATENCY_BUCKETS),),
    "generated_tokens": (RawMetric("slm_gateway_output_tokens_total", "counter"),),
    "prompt_tokens": (RawMetric("slm_gateway_input_tokens_total", "counter"),),
    "requests": (RawMetric("slm_gateway_requests_total", "counter", f'route=~"{_ROUTES}"'),),
    "request_errors": (RawMetric("slm_gateway_requests_total", "counter", f'route=~"{_ROUTES}",status=~"5.."'),),
    "requests_throttled": (RawMetric("slm_gateway_requests_total", "counter", f'route=~"{_ROUTES}",status="429"'),),
}
"""The gateway's own series, the same for every runtime behind it."""

MODEL_LOADED = {"onnxruntime": RawMetric("ortgenai_model_loaded", "gauge")}
"""Runtimes that say whether the model is loaded; for the others a scrapeable runtime is a loaded one."""
GATEWAY_UPSTREAM_WAITING = "slm_gateway_upstream_waiting_requests"
"""Requests the gateway holds while no runtime answers (scale from zero wakes on it)."""


def sources(runtime: str, signal: Signal, gated: bool) -> tuple[RawMetric, ...]:
    """Raw metrics for one signal in order of preference, every spelling included."""
    own = tuple(s for raw in RUNTIME_METRICS.get(runtime, {}).get(signal.name, ()) for s in raw.spellings())
    gateway = GATEWAY_METRICS.get(signal.name, ()) if gated else ()
    return gateway + own if signal.prefer == "gateway" else own + gateway


def not_exported(runtime: str, signal: str, gated: bool) -> str | None:
    """Why no series records the signal for this runtime, for panels and runbooks to say; None when one does."""
    if sources(runtime, SIGNAL_BY_NAME[signal], gated):
        return None
    return f"not exported by {RUNTIME_TITLES[runtime]}"


def recorded(signal: Signal, part: str = "") -> str:
    """The normalised series name: slm:<signal> for gauges, slm:<signal>[_part]:rate5m for counters."""
    if signal.kind == "gauge":
        return f"slm:{signal.name}"
    return f"slm:{signal.name}{'_' + part if part else ''}:rate5m"
