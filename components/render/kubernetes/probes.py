"""Probes sized to the model and a preStop drain that waits on each runtime's own idea of "busy"."""

from __future__ import annotations

import math
from typing import Any

from slm_deploy.runtimes.plan import Check, HttpCheck, ServicePlan

PROBE_PERIOD = 10
PROBE_TIMEOUT = 5
LIVENESS_PERIOD = 20
ENDPOINT_SETTLE_SECONDS = 5
"""Time for kube-proxy and the gateway to stop sending new requests after the pod leaves the endpoints."""
DRAIN_SECONDS = 240
"""Longest a pod waits for running and queued requests to finish before the runtime gets SIGTERM."""
SHUTDOWN_SECONDS = 30
"""What the runtime itself gets after preStop, before SIGKILL."""
POLL_SECONDS = 2

PYTHON_METRICS_DRAIN = (
    "import sys,time,urllib.request\n"
    "url,settle,budget,names=sys.argv[1],float(sys.argv[2]),float(sys.argv[3]),set(sys.argv[4:])\n"
    "time.sleep(settle)\n"
    "deadline=time.monotonic()+budget\n"
    "while time.monotonic()<deadline:\n"
    "    try:\n"
    "        text=urllib.request.urlopen(url,timeout=5).read().decode()\n"
    "    except OSError:\n"
    "        break\n"
    "    busy=sum(float(l.rsplit(' ',1)[1]) for l in text.splitlines()\n"
    "             if l.split('{',1)[0].split(' ',1)[0] in names)\n"
    "    if busy<=0:\n"
    "        break\n"
    f"    time.sleep({POLL_SECONDS})\n"
    "else:\n"
    "    sys.exit('drain budget spent with requests still running')\n"
)
"""Poll the runtime's Prometheus text until the named gauges sum to zero; an unreachable server has nothing left.
Running out of budget exits non-zero, so the kubelet records a FailedPreStopHook event for operators."""

CURL_METRICS_DRAIN = (
    'sleep "$1"; end=$(( $(date +%s) + $2 )); url=$3; pattern=$4\n'
    'while [ "$(date +%s)" -lt "$end" ]; do\n'
    '  busy=$(curl -fsS --max-time 5 "$url" | awk -v p="$pattern" \'$1 ~ p {s += $2} END {print s + 0}\')\n'
    '  [ "$busy" = 0 ] && exit 0\n'
    f'  sleep {POLL_SECONDS}\n'
    'done\n'
    'echo "drain budget spent with requests still running" >&2; exit 1\n'
)
"""The same with curl and awk, for images without Python (llama.cpp); a failed scrape reads as idle."""

CONNECTIONS_DRAIN = (
    'sleep "$1"; budget=$2; port=$(printf "%04X" "$3"); side=$4; waited=0\n'
    'while [ "$waited" -lt "$budget" ]; do\n'
    '  busy=0\n'
    '  for table in /proc/net/tcp /proc/net/tcp6; do\n'
    '    [ -r "$table" ] || continue\n'
    '    while read -r _ local remote state _; do\n'
    '      if [ "$side" = remote ]; then end=$remote; else end=$local; fi\n'
    '      if [ "${end##*:}" = "$port" ] && [ "$state" = 01 ]; then busy=$((busy + 1)); fi\n'
    '    done < "$table"\n'
    '  done\n'
    '  [ "$busy" -eq 0 ] && exit 0\n'
    f'  sleep {POLL_SECONDS}; waited=$((waited + {POLL_SECONDS}))\n'
    'done\n'
    'echo "drain budget spent with connections still open" >&2; exit 1\n'
)
"""Wait until no established TCP connection has `port` on the given side, read from the pod's own
/proc/net/tcp with shell built-ins only. `local` counts clients of a server without metrics (Foundry Local);
`remote` counts requests a proxy still holds open to its upstream (Open WebUI to the gateway or Ollama), which
browsers' idle websockets and keep-alive connections to the proxy itself do not touch."""

RUNNER_CPU_DRAIN = (
    'sleep "$1"; budget=$2; threshold=$3; name="($4)"; waited=0; previous=""; sampled=0\n'
    'while [ "$waited" -le "$budget" ]; do\n'
    '  current=""; busy=0\n'
    '  for stat in /proc/[0-9]*/stat; do\n'
    '    read -r line 2>/dev/null < "$stat" || continue\n'
    '    set -f; set -- $line; set +f\n'
    '    if [ "$2" != "$name" ] || [ "$4" = 0 ]; then continue; fi\n'
    '    ticks=$(( ${14} + ${15} ))\n'
    '    current="$current $1:$ticks"; seen=0\n'
    '    for entry in $previous; do\n'
    '      [ "${entry%%:*}" = "$1" ] || continue\n'
    '      seen=1; [ $((ticks - ${entry#*:})) -ge "$threshold" ] && busy=1\n'
    '    done\n'
    '    [ "$sampled" = 1 ] && [ "$seen" = 0 ] && busy=1\n'
    '  done\n'
    '  if [ "$sampled" = 1 ] && [ "$busy" = 0 ]; then exit 0; fi\n'
    '  previous=$current; sampled=1\n'
    f'  sleep {POLL_SECONDS}; waited=$((waited + {POLL_SECONDS}))\n'
    'done\n'
    'echo "drain budget spent with a model runner still computing" >&2; exit 1\n'
)
"""For Ollama, which has no metrics and whose clients keep connections alive: work in flight is a model
runner (a child process of `ollama serve`, same executable) spending CPU time; an idle runner spends
almost none. A runner that appeared since the last poll is a model being loaded for a request, so it counts as
busy too. Sampled from /proc/<pid>/stat (utime + stime) with shell built-ins only, every poll."""
RUNNER_BUSY_TICKS = 20
"""CPU ticks per poll above which a runner is computing: 10% of one core over two seconds at 100 Hz."""
RUNNER_EXECUTABLE = "ollama"

QUEUE_GAUGES = {
    "vllm": ("vllm:num_requests_running", "vllm:num_requests_waiting"),
    "llamacpp": ("llamacpp:requests_processing", "llamacpp:requests_deferred"),
    "onnxruntime": ("ortgenai_generations_running", "ortgenai_requests_waiting"),
    "gateway": ("slm_gateway_in_flight_requests", "slm_gateway_queued_requests"),
}
"""The gauges whose sum is the work a pod still holds, per runtime (as each exposes them on /metrics)."""


def _action(check: Check) -> dict[str, Any]:
    if isinstance(check, HttpCheck):
        return {"httpGet": {"path": check.path, "port": check.port}}
    return {"exec": {"command": list(check.command)}}


def startup_failure_threshold(budget_seconds: int) -> int:
    """Failures the startupProbe tolerates so that period x threshold covers the whole budget."""
    return math.ceil(budget_seconds / PROBE_PERIOD)


def probes(service: ServicePlan, health: Check) -> dict[str, Any]:
    """startupProbe over the load budget; readiness = model loaded; liveness only runs after startup succeeds."""
    readiness = service.readiness or health
    return {
        "startupProbe": {**_action(health), "periodSeconds": PROBE_PERIOD, "timeoutSeconds": PROBE_TIMEOUT,
                         "failureThreshold": startup_failure_threshold(service.startup_budget_seconds)},
        "readinessProbe": {**_action(readiness), "periodSeconds": PROBE_PERIOD, "timeoutSeconds": PROBE_TIMEOUT,
                           "failureThreshold": 3},
        "livenessProbe": {**_action(health), "periodSeconds": LIVENESS_PERIOD, "timeoutSeconds": PROBE_TIMEOUT,
                          "failureThreshold": 3},
    }


def metrics_url(service: ServicePlan) -> str:
    """Where the pod itself reads its own metrics."""
    return f"http://127.0.0.1:{service.metrics_port or service.port}{service.metrics_path}"


def drain_command(service: ServicePlan) -> list[str]:
    """The preStop command for one long-running service, using only what its image carries."""
    settle, budget = str(ENDPOINT_SETTLE_SECONDS), str(DRAIN_SECONDS)
    gauges = QUEUE_GAUGES.get(service.runtime) if service.metrics_path else None
    if gauges and service.runtime == "llamacpp":
        pattern = "^(" + "|".join(gauges) + ")([{ ]|$)"
        return ["/bin/sh", "-c", CURL_METRICS_DRAIN, "drain", settle, budget, metrics_url(service), pattern]
    if gauges:
        return ["python3", "-c", PYTHON_METRICS_DRAIN, metrics_url(service), settle, budget, *gauges]
    if service.runtime == "ollama":
        return ["/bin/sh", "-c", RUNNER_CPU_DRAIN, "drain", settle, budget, str(RUNNER_BUSY_TICKS),
                RUNNER_EXECUTABLE]
    if service.upstream_port is not None:
        return ["/bin/sh", "-c", CONNECTIONS_DRAIN, "drain", settle, budget, str(service.upstream_port), "remote"]
    return ["/bin/sh", "-c", CONNECTIONS_DRAIN, "drain", settle, budget, str(service.port), "local"]


def grace_period_seconds() -> int:
    """terminationGracePeriodSeconds: the settle time, the drain and the runtime's own shutdown."""
    return ENDPOINT_SETTLE_SECONDS + DRAIN_SECONDS + SHUTDOWN_SECONDS
