"""The one rule source: recording rules onto the `slm:*` vocabulary, SLO error ratios, and alerts with runbooks.

Prometheus rule files, PrometheusRule objects and Azure Prometheus rule groups are all serialised from
`rule_groups`, so every platform evaluates the same expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from slm_deploy.errors import Problem, SpecError
from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.promql import (
    BY, gauge, le_matcher, prefer, rate, ratio_or_zero, selector, series_rate, snapped_bound,
)
from slm_deploy.render.monitoring.vocabulary import (
    GATEWAY_METRICS, MODEL_LOADED, RUNTIME_METRICS, SIGNAL_BY_NAME, SIGNALS, RawMetric, Signal, not_exported, recorded,
    sources,
)
from slm_deploy.spec.present import present

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
BURN_RATES = (("1h", "5m", 14.4, "critical"), ("6h", "30m", 6.0, "critical"),
              ("1d", "2h", 3.0, "warning"), ("3d", "6h", 1.0, "warning"))
"""(long window, short window, burn rate, severity): the multi-window pairs of the Google SRE workbook."""
QUANTILE_OBJECTIVE = 0.95
THROTTLE_RATIO = 0.05
KV_CACHE_SATURATION = 0.9
GPU_MEMORY_PRESSURE = 0.95
CERT_EXPIRY_DAYS = 14
ERROR_RATIO = "slm:request_errors:ratio_rate5m"
THROTTLE_RATIO_SERIES = "slm:requests_throttled:ratio_rate5m"
SLO_SERIES = "slm:slo_errors:ratio_rate"
QUEUE_ALERT = "SLMQueueGrowing"
KV_CACHE_ALERT = "SLMKVCacheSaturated"
SIGNAL_ALERTS = {"requests_waiting": QUEUE_ALERT, "kv_cache_usage": KV_CACHE_ALERT}
"""Alerts on one signal a runtime may not export; they are left out (and the runbooks say why) where it does not."""


@dataclass(frozen=True)
class Case:
    """Input series (promtool notation) and whether the alert is expected to fire at `at`."""

    series: tuple[tuple[str, str], ...]
    at: str
    labels: tuple[dict[str, str], ...] = ()
    """Labels of each firing alert (besides alertname and severity); empty means silent."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule with its runbook and the two cases its rule test shows."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    runbook: str
    fires: Case
    quiet: Case
    labels: dict[str, str] = field(default_factory=dict)


def _minutes(seconds: int) -> str:
    return f"{max(1, -(-seconds // 60))}m"


# -- recording rules ------------------------------------------------------------------------------------


def _signal_rules(m: Monitored, signal: Signal) -> list[dict[str, Any]]:
    found = sources(m.runtime, signal, m.gateway is not None)
    if not found:
        return []
    if signal.kind == "gauge":
        return [{"record": recorded(signal), "expr": prefer([gauge(s, m.name, signal.aggregate) for s in found])}]
    parts = ("bucket", "sum", "count") if signal.kind == "histogram" else ("",)
    rules = []
    for part in parts:
        exprs = [e for s in found if (e := rate(s, m.name, "5m", part)) is not None]
        if exprs:
            rules.append({"record": recorded(signal, part), "expr": prefer(exprs)})
    return rules


def _model_loaded(m: Monitored) -> dict[str, Any]:
    runtime_up = selector("up", m.name, 'component="runtime"')
    up = f"max by ({BY}) ({runtime_up})"
    own = MODEL_LOADED.get(m.runtime)
    exprs = [gauge(s, m.name, "max") for s in own.spellings()] if own else []
    return {"record": "slm:model_loaded", "expr": prefer(exprs + [up])}


@lru_cache(maxsize=8)
def _signal_records(m: Monitored) -> frozenset[str]:
    """The series the signal rules record, which each ratio rule looks up: made once per deployment."""
    return frozenset(r["record"] for r in normalising(m, with_ratios=False))


def _ratio(m: Monitored, record: str, errors: str, total: str) -> list[dict[str, Any]]:
    names = _signal_records(m)
    if errors not in names or total not in names:
        return []
    return [{"record": record, "expr": ratio_or_zero(errors, total)}]


def normalising(m: Monitored, with_ratios: bool = True) -> list[dict[str, Any]]:
    return list(_normalising(m, with_ratios))


@lru_cache(maxsize=8)
def _normalising(m: Monitored, with_ratios: bool) -> tuple[dict[str, Any], ...]:
    """Both rule files, the SLO check, the alerts and the dashboards read these rules: made once per deployment."""
    rules = [r for signal in SIGNALS for r in _signal_rules(m, signal)] + [_model_loaded(m)]
    if with_ratios:
        requests = recorded(SIGNAL_BY_NAME["requests"])
        rules += _ratio(m, ERROR_RATIO, recorded(SIGNAL_BY_NAME["request_errors"]), requests)
        rules += _ratio(m, THROTTLE_RATIO_SERIES, recorded(SIGNAL_BY_NAME["requests_throttled"]), requests)
    return tuple(rules)


def _origins(m: Monitored, signal: str) -> list[tuple[RawMetric, ...]]:
    """Raw metrics of one signal grouped by who exports them (gateway, runtime), preferred first."""
    groups = []
    if m.gateway is not None and signal in GATEWAY_METRICS:
        groups.append(GATEWAY_METRICS[signal])
    own = RUNTIME_METRICS.get(m.runtime, {}).get(signal, ())
    if own:
        groups.append(tuple(s for raw in own for s in raw.spellings()))
    return groups if SIGNAL_BY_NAME[signal].prefer == "gateway" else groups[::-1]


def _availability(m: Monitored, window: str) -> str | None:
    exprs = []
    for requests, errors in zip(_origins(m, "requests"), _origins(m, "request_errors")):
        exprs += [ratio_or_zero(series_rate(e, m.name, window), series_rate(r, m.name, window)) for r in requests for e in errors]
    return prefer(exprs) if exprs else None


def _quantile_slo(m: Monitored, signal: str, threshold: float, window: str) -> str | None:
    exprs = []
    for group in _origins(m, signal):
        for raw in group:
            bound = snapped_bound(raw.buckets, threshold) if raw.kind == "histogram" else None
            if bound is None:
                continue
            good = series_rate(RawMetric(raw.name, raw.kind, ",".join(filter(None, (raw.matchers, le_matcher(bound))))),
                        m.name, window, "bucket").replace(f"by ({BY}, le)", f"by ({BY})")
            exprs.append(f"1 - ({good}) / ({series_rate(raw, m.name, window, 'count')})")
    return prefer(exprs) if exprs else None


def slo_objectives(m: Monitored) -> dict[str, float]:
    """SLO name -> objective, for the SLOs this deployment's metrics can measure."""
    return dict(_slo_objectives(m))


@lru_cache(maxsize=8)
def _slo_objectives(m: Monitored) -> dict[str, float]:
    """Read by the SLO check, the SLO rules and the burn-rate alerts of each platform: worked out once per
    deployment (callers get a copy)."""
    found = {}
    if _availability(m, "5m"):
        found["availability"] = m.slo.availability
    if _quantile_slo(m, "time_to_first_token_seconds", m.slo.ttft_p95_seconds, "5m"):
        found["ttft"] = QUANTILE_OBJECTIVE
    if _quantile_slo(m, "request_duration_seconds", m.slo.latency_p95_seconds, "5m"):
        found["latency"] = QUANTILE_OBJECTIVE
    return found


def _slo_rules(m: Monitored) -> list[dict[str, Any]]:
    return list(_slo_rule_tuple(m))


@lru_cache(maxsize=8)
def _slo_rule_tuple(m: Monitored) -> tuple[dict[str, Any], ...]:
    """Both rule files and the dashboards read the SLO rules: made once per deployment."""
    builders = {
        "availability": lambda w: _availability(m, w),
        "ttft": lambda w: _quantile_slo(m, "time_to_first_token_seconds", m.slo.ttft_p95_seconds, w),
        "latency": lambda w: _quantile_slo(m, "request_duration_seconds", m.slo.latency_p95_seconds, w),
    }
    return tuple({"record": f"{SLO_SERIES}{window}", "expr": builders[slo](window), "labels": {"slo": slo}}
                 for slo in _slo_objectives(m) for window in WINDOWS)


# -- alerts -------------------------------------------------------------------------------------------


def _series(m: Monitored, name: str, values: str, **labels: str) -> tuple[str, str]:
    body = {"deployment": m.name, "runtime": m.runtime, **labels}
    return (name + "{" + ",".join(f'{k}="{v}"' for k, v in body.items()) + "}", values)


def _request_series(m: Monitored, per_minute: int, failing: int, status: str,
                    samples: int) -> tuple[tuple[str, str], ...]:
    """Request counters of the preferred origin: `per_minute` requests a minute, `failing` of them with `status`."""
    total = _origins(m, "requests")[0][0]
    bad = _origins(m, "request_errors" if status.startswith("5") else "requests_throttled")[0][0]
    return (_series(m, total.name, f"0+{per_minute - failing}x{samples}", **_labels_of(total.matchers, status="200")),
            _series(m, bad.name, f"0+{failing}x{samples}", **_labels_of(bad.matchers, status=status)))


def _labels_of(matchers: str, **defaults: str) -> dict[str, str]:
    """Concrete labels that satisfy a raw metric's matchers: the first alternative, 500 for `5..`."""
    labels = dict(defaults)
    for part in filter(None, matchers.split('",')):
        key, _, value = part.partition("=")
        value = value.lstrip("~").strip('"').split("|")[0]
        labels[key] = "500" if value == "5.." else value.replace(".*", "chat/completions")
    return labels


def _burn_alert(m: Monitored, slo: str, objective: float, severity: str) -> Alert:
    budget = 1 - objective
    pairs = [p for p in BURN_RATES if p[3] == severity]
    expr = " or ".join(
        f'({SLO_SERIES}{long}{{deployment="{m.name}",slo="{slo}"}} > {factor * budget:.6g} and '
        f'{SLO_SERIES}{short}{{deployment="{m.name}",slo="{slo}"}} > {factor * budget:.6g})'
        for long, short, factor, _ in pairs)
    title = {"availability": "Availability", "ttft": "TimeToFirstToken", "latency": "Latency"}[slo]
    # A fast burn fires both severities; rates over the long windows read whatever part of them exists.
    minutes = 40
    fires, quiet = _slo_cases(m, slo, objective, minutes + 5)
    labels = {"deployment": m.name, "runtime": m.runtime, "slo": slo}
    return Alert(
        name=f"SLM{title}BudgetBurn", expr=expr, for_="2m" if severity == "critical" else "15m", severity=severity,
        summary=f"{m.name}: the {slo} error budget ({budget:.3%}) is burning too fast",
        runbook=("Check the SLI panels of the deployment dashboard. A fast burn (critical) means users are failing "
                 "now: look for runtime restarts, saturation (queue, KV cache) and upstream errors in the gateway "
                 "logs. A slow burn (warning) calls for capacity or tuning work before the budget runs out."),
        fires=Case(fires, f"{minutes}m", (labels,)), quiet=Case(quiet, f"{minutes}m"))


def _slo_cases(m: Monitored, slo: str, objective: float, samples: int) -> tuple[tuple, tuple]:
    """Series that burn the budget 20 times too fast, and series well inside it."""
    if slo == "availability":
        return (_request_series(m, 1000, 200, "500", samples),
                _request_series(m, 1000, 0, "500", samples))
    signal = "time_to_first_token_seconds" if slo == "ttft" else "request_duration_seconds"
    threshold = m.slo.ttft_p95_seconds if slo == "ttft" else m.slo.latency_p95_seconds
    raw, bound = next((r, b) for group in _origins(m, signal) for r in group
                      if r.kind == "histogram" and (b := snapped_bound(r.buckets, threshold)) is not None)
    labels = _labels_of(raw.matchers)
    good_fast, good_slow = 1000, 0
    def histogram(good: int) -> tuple[tuple[str, str], ...]:
        return (_series(m, f"{raw.name}_bucket", f"0+{good}x{samples}", le=repr(float(bound)), **labels),
                _series(m, f"{raw.name}_bucket", f"0+1000x{samples}", le="+Inf", **labels),
                _series(m, f"{raw.name}_count", f"0+1000x{samples}", **labels))
    return histogram(good_slow), histogram(good_fast)


def _alerts(m: Monitored, platform: str) -> list[Alert]:
    d, r = m.name, m.runtime
    both = {"deployment": d, "runtime": r}
    others_up = selector("up", d, 'component!="runtime"')
    runtime_up = lambda v: _series(m, "up", v, component="runtime", instance="runtime:1", job="runtime")  # noqa: E731
    alerts = [
        Alert("SLMTargetDown", f"max by (deployment, component) ({others_up} == 0)",
              "5m", "critical", f"{d}: a scrape target ({{{{ $labels.component }}}}) is down",
              "The gateway (or another scraped service) stopped answering its metrics endpoint. Check the "
              "container or pod status and its logs; clients cannot reach the model while the gateway is down.",
              Case((_series(m, "up", "0x15", component="gateway", instance="gw:9464", job="gateway"),), "10m",
                   ({"deployment": d, "component": "gateway"},)),
              Case((_series(m, "up", "1x15", component="gateway", instance="gw:9464", job="gateway"),), "10m")),
        Alert("SLMRuntimeNotReady", f'slm:model_loaded{{deployment="{d}"}} == 0',
              _minutes(m.startup_budget_seconds), "critical",
              f"{d}: the runtime has not served the model for longer than its startup budget",
              "The model did not finish downloading or loading within the startup budget, or the runtime "
              "crashed after loading. Read the runtime's logs (download progress, out-of-memory, CUDA errors), "
              "check the model-preparation step and free disk or memory, then restart it.",
              Case((runtime_up(f"0x{m.startup_budget_seconds // 60 + 20}"),),
                   f"{m.startup_budget_seconds // 60 + 15}m", (both,)),
              Case((runtime_up(f"1x{m.startup_budget_seconds // 60 + 20}"),),
                   f"{m.startup_budget_seconds // 60 + 15}m")),
    ]
    names = {rule["record"] for rule in normalising(m)}
    if ERROR_RATIO in names:
        alerts.append(Alert(
            "SLMHighErrorRate", f'{ERROR_RATIO}{{deployment="{d}"}} > {m.slo.error_ratio:.6g}', "10m", "critical",
            f"{d}: more than {m.slo.error_ratio:.2%} of requests fail with a server error",
            "Server errors (5xx) exceed the spec's error ratio. Look at the gateway's upstream errors (connect, "
            "timeout) and the runtime's logs; a runtime that restarts or runs out of memory answers 502/503.",
            Case(_request_series(m, 100, 50, "500", 40), "30m", (both,)),
            Case(_request_series(m, 100, 0, "500", 40), "30m")))
    if THROTTLE_RATIO_SERIES in names:
        alerts.append(Alert(
            "SLMHighThrottleRate", f'{THROTTLE_RATIO_SERIES}{{deployment="{d}"}} > {THROTTLE_RATIO}', "10m",
            "warning", f"{d}: more than {THROTTLE_RATIO:.0%} of requests are refused with 429",
            "Clients exceed their per-key rate or concurrency limits. Find the key ids in the gateway's "
            "`slm_gateway_rejections_total` and raise serving.auth limits or capacity, or ask the client to back off.",
            Case(_request_series(m, 100, 20, "429", 40), "30m", (both,)),
            Case(_request_series(m, 100, 0, "429", 40), "30m")))
    waiting = sources(m.runtime, SIGNAL_BY_NAME["requests_waiting"], m.gateway is not None)
    if waiting:
        raw = waiting[0]
        alerts.append(Alert(
            QUEUE_ALERT,
            f'slm:requests_waiting{{deployment="{d}"}} > {m.queue_limit} and '
            f'deriv(slm:requests_waiting{{deployment="{d}"}}[10m]) > 0', "10m", "warning",
            f"{d}: more requests wait than the deployment can run at once, and the queue grows",
            "Demand exceeds capacity. Check autoscaling (KEDA ScaledObject events, max_replicas), GPU or CPU "
            "saturation and time per output token; add replicas or lower max_tokens per request.",
            Case((_series(m, raw.name, f"{m.queue_limit + 1}+1x50", **_labels_of(raw.matchers)),), "45m", (both,)),
            Case((_series(m, raw.name, f"{m.queue_limit + 1}+0x50", **_labels_of(raw.matchers)),), "45m")))
    kv = sources(m.runtime, SIGNAL_BY_NAME["kv_cache_usage"], m.gateway is not None)
    if kv:
        alerts.append(Alert(
            KV_CACHE_ALERT, f'slm:kv_cache_usage{{deployment="{d}"}} > {KV_CACHE_SATURATION}', "15m",
            "warning", f"{d}: the KV cache is more than {KV_CACHE_SATURATION:.0%} full",
            "A full KV cache makes the runtime preempt or queue sequences and latency climbs. Lower concurrency "
            "or context length, or add memory (GPU utilisation, replicas).",
            Case((_series(m, kv[0].name, "0.97x40"),), "35m", (both,)),
            Case((_series(m, kv[0].name, "0.5x40"),), "35m")))
    alerts += [_burn_alert(m, slo, objective, severity) for slo, objective in slo_objectives(m).items()
               for severity in ("critical", "warning")]
    if platform == "kubernetes":
        alerts += _kubernetes_alerts(m, present(m.namespace, "targets.kubernetes.namespace"))
    return alerts


def _kubernetes_alerts(m: Monitored, ns: str) -> list[Alert]:
    d = m.name
    pods = f'namespace="{ns}",pod=~"{d}-.*"'
    pod = {"namespace": ns, "pod": f"{d}-7f9c-abcde", "container": d}
    def kube(metric: str, values: str, **labels: str) -> tuple[str, str]:
        return (metric + "{" + ",".join(f'{k}="{v}"' for k, v in {**pod, **labels}.items()) + "}", values)
    job = {"namespace": ns, "job_name": f"{d}-model-prep-0a1b2c3d"}
    budget = m.startup_budget_seconds
    alerts = [
        Alert("SLMPodRestarting", f"increase(kube_pod_container_status_restarts_total{{{pods}}}[1h]) > 3", "5m",
              "warning", f"{d}: {{{{ $labels.pod }}}} restarted more than 3 times in an hour",
              "A container keeps restarting. `kubectl describe pod` shows the last state (OOMKilled, Error) and "
              "probe failures; the previous container's logs (`kubectl logs --previous`) show why.",
              Case((kube("kube_pod_container_status_restarts_total", "0+1x70"),), "65m", (pod,)),
              Case((kube("kube_pod_container_status_restarts_total", "0x70"),), "65m")),
        Alert("SLMPodOOMKilled",
              f'max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason'
              f'{{{pods},reason="OOMKilled"}}) == 1 and on (namespace, pod, container) '
              f"increase(kube_pod_container_status_restarts_total{{{pods}}}[30m]) > 0", "0m", "warning",
              f"{d}: {{{{ $labels.container }}}} was killed for running out of memory",
              "The container exceeded its memory limit. Raise resources.memory, or lower concurrency and "
              "context_length so the KV cache fits the sizing estimate.",
              Case((kube("kube_pod_container_status_last_terminated_reason", "1x20", reason="OOMKilled"),
                    kube("kube_pod_container_status_restarts_total", "0+1x20")), "15m", (pod,)),
              Case((kube("kube_pod_container_status_last_terminated_reason", "1x20", reason="Completed"),
                    kube("kube_pod_container_status_restarts_total", "0+1x20")), "15m")),
        Alert("SLMModelDownloadStalled",
              f'max by (namespace, job_name) (kube_job_status_active{{namespace="{ns}",job_name=~"{d}-model-prep-.*"}}) > 0',
              _minutes(2 * budget), "warning", f"{d}: the model download has run longer than twice the startup budget",
              "The pre-download Job is still running. Check its logs for hub errors (401/403 need the hub token "
              "secret, 429 is rate limiting) and the cache volume's free space and throughput.",
              Case((kube("kube_job_status_active", f"1x{2 * budget // 60 + 20}", **job),), f"{2 * budget // 60 + 15}m",
                   (job,)),
              Case((kube("kube_job_status_active", f"0x{2 * budget // 60 + 20}", **job),), f"{2 * budget // 60 + 15}m")),
        Alert("SLMModelDownloadFailed",
              f'max by (namespace, job_name) (kube_job_status_failed{{namespace="{ns}",job_name=~"{d}-model-prep-.*"}}) > 0',
              "0m", "critical", f"{d}: the model download Job failed",
              "The pre-download Job exhausted its retries, so no replica can start. Read its logs, fix the cause "
              "(token, revision, disk), delete the Job and let the deployment re-create it.",
              Case((kube("kube_job_status_failed", "1x10", **job),), "5m", (job,)),
              Case((kube("kube_job_status_failed", "0x10", **job),), "5m")),
    ]
    if m.gpu:
        gpu = {**pod, "gpu": "0"}
        used = f'DCGM_FI_DEV_FB_USED{{namespace="{ns}",pod=~"{d}-.*"}}'
        free = f'DCGM_FI_DEV_FB_FREE{{namespace="{ns}",pod=~"{d}-.*"}}'
        alerts.append(Alert(
            "SLMGpuMemoryPressure", f"{used} / ({used} + {free}) > {GPU_MEMORY_PRESSURE}", "15m", "warning",
            f"{d}: GPU {{{{ $labels.gpu }}}} memory is more than {GPU_MEMORY_PRESSURE:.0%} used",
            "GPU memory is nearly exhausted (DCGM exporter). vLLM reserves gpu_memory_utilisation up front; "
            "pressure beyond it means another process shares the GPU or the model and KV cache do not fit.",
            Case((kube("DCGM_FI_DEV_FB_USED", "79000x30", gpu="0"), kube("DCGM_FI_DEV_FB_FREE", "1000x30", gpu="0")),
                 "20m", (gpu,)),
            Case((kube("DCGM_FI_DEV_FB_USED", "40000x30", gpu="0"), kube("DCGM_FI_DEV_FB_FREE", "40000x30", gpu="0")),
                 "20m")))
    if m.ingress:
        cert = {"namespace": ns, "name": f"{d}-gateway-tls"}
        soon, later = 5 * 86400, 60 * 86400
        alerts.append(Alert(
            "SLMCertificateExpiring",
            f'max by (namespace, name) (certmanager_certificate_expiration_timestamp_seconds{{namespace="{ns}"}}) '
            f"- time() < {CERT_EXPIRY_DAYS * 86400}", "1h", "warning",
            f"{d}: the ingress certificate {{{{ $labels.name }}}} expires in less than {CERT_EXPIRY_DAYS} days",
            "cert-manager has not renewed the certificate. `kubectl describe certificate` and the ClusterIssuer's "
            "orders show why (DNS not pointing at the ingress, HTTP-01 challenge blocked, rate limits).",
            Case((kube("certmanager_certificate_expiration_timestamp_seconds", f"{soon}x90", name=cert["name"]),),
                 "80m", (cert,)),
            Case((kube("certmanager_certificate_expiration_timestamp_seconds", f"{later}x90", name=cert["name"]),),
                 "80m")))
    return alerts


def alerts(m: Monitored, platform: str) -> list[Alert]:
    """Every alert of the deployment on one platform (Kubernetes adds pod, Job, GPU and certificate alerts)."""
    return list(_platform_alerts(m, platform))


@lru_cache(maxsize=8)
def _platform_alerts(m: Monitored, platform: str) -> tuple[Alert, ...]:
    """The rule file, its promtool tests and the runbooks all read the alerts: made once per deployment."""
    return tuple(_alerts(m, platform))


def not_raised(m: Monitored) -> dict[str, str]:
    """Alert name -> why the rules leave it out: the runtime (and the gateway, if any) exports no series for it."""
    gated = m.gateway is not None
    return {name: why for signal, name in SIGNAL_ALERTS.items() if (why := not_exported(m.runtime, signal, gated))}


def _alert_rule(alert: Alert) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
    if alert.for_ != "0m":
        rule["for"] = alert.for_
    rule["labels"] = {"severity": alert.severity, **alert.labels}
    rule["annotations"] = {"summary": alert.summary, "runbook": alert.runbook,
                           "runbook_url": f"RUNBOOKS.md#{alert.name.lower()}"}
    return rule


SLO_FIELDS = {"availability": "availability", "ttft_p95_seconds": "ttft", "latency_p95_seconds": "latency"}
QUANTILE_SIGNALS = {"ttft_p95_seconds": "time_to_first_token_seconds", "latency_p95_seconds": "request_duration_seconds"}


def _smallest_bucket(m: Monitored, field: str) -> float | None:
    """The smallest bucket bound any histogram of this deployment has for a quantile SLO's signal."""
    signal = QUANTILE_SIGNALS.get(field)
    bounds = [b for group in (_origins(m, signal) if signal else []) for raw in group
              if raw.kind == "histogram" for b in raw.buckets]
    return min(bounds) if bounds else None


def _unmeasured(m: Monitored, field: str) -> Problem:
    smallest = _smallest_bucket(m, field)
    if smallest is not None:
        return Problem(f"monitoring.slo.{field}", "is below the smallest histogram bucket the metrics have",
                       allowed=f"at least {smallest:g} seconds")
    return Problem(f"monitoring.slo.{field}", f"no metric of {m.runtime} measures it here",
                   allowed="serving.auth.enabled: true (the gateway measures every runtime)")


def check_slo(m: Monitored) -> None:
    """Refuse an SLO the spec sets that no metric of this deployment can measure (it would be ignored)."""
    measured = slo_objectives(m)
    missing = [f for f, slo in SLO_FIELDS.items() if f in m.slo.model_fields_set and slo not in measured]
    if "error_ratio" in m.slo.model_fields_set and ERROR_RATIO not in {r["record"] for r in normalising(m)}:
        missing.append("error_ratio")
    if missing:
        raise SpecError([_unmeasured(m, field) for field in missing])


def rule_groups(m: Monitored, platform: str) -> list[dict[str, Any]]:
    """The rule groups of one deployment: normalise, SLO ratios, alerts."""
    check_slo(m)
    groups = [{"name": f"slm-{m.name}-normalise", "rules": normalising(m)}]
    slo = _slo_rules(m)
    if slo:
        groups.append({"name": f"slm-{m.name}-slo", "rules": slo})
    groups.append({"name": f"slm-{m.name}-alerts", "rules": [_alert_rule(a) for a in alerts(m, platform)]})
    return groups
