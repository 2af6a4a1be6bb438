"""Measure what a proxy in front of a streaming runtime adds: the gateway, nginx and LiteLLM's proxy against direct.

Runs a fake OpenAI runtime (SSE, one chunk per token, paced or not), the real gateway process and, when
installed, nginx as a plain reverse proxy; with --nginx-lua also nginx running the gateway's per-request
work in Lua (benchmarks/dataplane/), an estimate of what a compiled data plane would cost; with --litellm
also LiteLLM's proxy, installed into a virtualenv of its own and configured as its users run it (one OpenAI
upstream, a static master key, no database, logging off). All on loopback, with bounded request counts,
every setup interleaved in each round. Prints, per pacing and concurrency, the added time to first byte
(p50) and total (p50/p99), throughput against direct and the CPU time each proxy spends per request (with
the runtime's own, which steadies the figure on a machine shared with other work, and against nginx's).

    python benchmarks/gateway_overhead.py [--pacing-ms 10 0] [--streams 1 64] [--rounds 3] [--no-nginx] \\
        [--nginx-lua] [--litellm [--litellm-venv DIR]] [--baseline-python PYTHON]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from slm_deploy.servers.gateway.config import GatewayConfig, config_to_toml

KEY = "sk-benchmark-key-000000000000000"
ROOT = Path(__file__).resolve().parent.parent
CHAT_PATH = "/v1/chat/completions"
PROMPT_TOKENS = 8  # what the fake runtime reports as every request's input
DATAPLANE = Path(__file__).resolve().parent / "dataplane"
NGINX_MODULES = Path("/usr/lib/nginx/modules")
# Before 1.107, reported compromised and gone from PyPI; later proxy extras pin builds PyPI does not have.
LITELLM_REQUIREMENT = "litellm[proxy]==1.106.12"
DEFAULT_LITELLM_VENV = Path.home() / ".cache" / "slm-deploy" / "bench-litellm-1.106.12"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the fake runtime (runs in its own process) ---------------------------------------------------


def run_runtime(port: int, tokens: int) -> None:
    """A chat endpoint that streams like vLLM with include_usage; `PUT /pace` sets the milliseconds between chunks."""
    pacing = {"seconds": 0.0}

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        interval = pacing["seconds"]
        for _ in range(tokens):
            if interval:
                await asyncio.sleep(interval)
            await response.write(b'data: {"id":"b","object":"chat.completion.chunk","created":1,"model":"bench",'
                                 b'"choices":[{"index":0,"delta":{"content":" tok"}}]}\n\n')
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "b", "object": "chat.completion.chunk", "created": 1, "model": "bench", "choices": [],
                     "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": tokens,
                               "total_tokens": PROMPT_TOKENS + tokens}}
            await response.write(f"data: {json.dumps(usage)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def pace(request: web.Request) -> web.Response:
        pacing["seconds"] = float(await request.text()) / 1000
        return web.Response()

    app = web.Application()
    app.router.add_post(CHAT_PATH, chat)
    app.router.add_put("/pace", pace)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Setup:
    """One way to reach the runtime: its URL, whether it wants the key, and the process that serves it."""

    name: str
    url: str
    auth: bool
    process: subprocess.Popen[bytes] | None = None
    # Called after the rounds with everything this setup was sent, to show the work was really done.
    check: Callable[[Result], None] | None = None


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def start_gateway(workdir: Path, upstream: str, name: str, python: str, event_loop: str) -> Setup:
    port = free_port()
    workdir = workdir / "".join(c if c.isalnum() else "-" for c in name)
    workdir.mkdir()
    (workdir / "keys").write_text(f"bench:{KEY}\n")
    config = GatewayConfig(
        upstream_url=upstream, key_file=str(workdir / "keys"), route_table="vllm", listen_host="127.0.0.1",
        listen_port=port, metrics_host="127.0.0.1", metrics_port=free_port(),
    )
    (workdir / "gateway.toml").write_text(config_to_toml(config))
    process = subprocess.Popen(
        [python, "-m", "slm_deploy.servers.gateway", "--config", str(workdir / "gateway.toml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SLM_GATEWAY_EVENT_LOOP": event_loop},
    )
    wait_port(port, process, name)
    return Setup(name, f"http://127.0.0.1:{port}{CHAT_PATH}", True, process)


NGINX_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream runtime {{ server 127.0.0.1:{upstream}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://runtime;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def run_nginx(binary: str, workdir: Path, conf: str, port: int, name: str) -> subprocess.Popen[bytes]:
    """nginx in the foreground with its config, pid, logs and temp files in workdir."""
    (workdir / "nginx.conf").write_text(conf)
    process = subprocess.Popen(
        [binary, "-c", str(workdir / "nginx.conf"), "-p", str(workdir), "-e", str(workdir / "error.log"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port, process, name)
    return process


def start_nginx(workdir: Path, upstream_port: int) -> Setup | None:
    binary = nginx_binary()
    if binary is None:
        return None
    port = free_port()
    process = run_nginx(binary, workdir, NGINX_CONF.format(dir=workdir, upstream=upstream_port, port=port), port,
                        "nginx")
    return Setup("nginx (plain proxy)", f"http://127.0.0.1:{port}{CHAT_PATH}", False, process)


def start_nginx_lua(workdir: Path, upstream_port: int) -> Setup:
    """nginx with the Lua tap: the gateway's per-request work (key, route, limits, usage, metrics, log) in nginx."""
    binary = nginx_binary()
    if binary is None or not (NGINX_MODULES / "ngx_http_lua_module.so").exists():
        raise SystemExit("--nginx-lua needs nginx with its Lua module: apt-get install nginx-light "
                         "libnginx-mod-http-lua lua-cjson lua-nginx-string")
    workdir = workdir / "nginx-lua"
    workdir.mkdir()
    (workdir / "keys").write_text(f"bench:{KEY}\n")
    port, metrics_port = free_port(), free_port()
    conf = (DATAPLANE / "nginx.conf.tmpl").read_text().format(
        dir=workdir, lua_dir=DATAPLANE, key_file=workdir / "keys", upstream=upstream_port, port=port,
        metrics_port=metrics_port,
    )
    process = run_nginx(binary, workdir, conf, port, "nginx with the Lua tap")

    def check(sent: Result) -> None:
        check_tap(f"http://127.0.0.1:{metrics_port}/metrics", workdir / "access.log", sent)

    return Setup("nginx + Lua tap (data-plane estimate)", f"http://127.0.0.1:{port}{CHAT_PATH}", True, process, check)


def check_tap(metrics_url: str, access_log: Path, sent: Result) -> None:
    """Fail unless the tap counted every request, token and log line the client sent and received."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        samples = [sample for family in text_string_to_metric_families(response.read().decode())
                   for sample in family.samples]

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())

    requests = len(sent.latencies) + sent.warm_up_requests
    found = {
        "requests answered 200": total("slm_gateway_requests_total", status="200"),
        "requests": total("slm_gateway_requests_total"),
        "time-to-first-token observations": total("slm_gateway_time_to_first_token_seconds_count"),
        "input tokens": total("slm_gateway_input_tokens_total"),
        "output tokens": total("slm_gateway_output_tokens_total"),
        "requests in flight": total("slm_gateway_in_flight_requests"),
        "access-log lines": len(access_log.read_text().splitlines()),
    }
    wanted = {
        "requests answered 200": requests, "requests": requests, "time-to-first-token observations": requests,
        "input tokens": PROMPT_TOKENS * requests, "output tokens": sent.chunks + sent.warm_up_chunks,
        "requests in flight": 0, "access-log lines": requests,
    }
    wrong = [f"{what}: {found[what]:g}, client counted {wanted[what]}" for what in wanted if found[what] != wanted[what]]
    if wrong:
        raise SystemExit("the Lua tap did not do the work it was measured on: " + "; ".join(wrong))
    print(f"nginx + Lua tap checked: {requests} requests, {wanted['input tokens']} input and "
          f"{wanted['output tokens']} output tokens, {requests} log lines, as the client counted")


LITELLM_CONF = """model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: http://127.0.0.1:{upstream}/v1
      api_key: runtime-has-no-key
litellm_settings:
  set_verbose: false
  json_logs: false
  turn_off_message_logging: true
general_settings:
  master_key: {key}
  disable_spend_logs: true
"""


def litellm_executable(venv: Path) -> Path:
    """LiteLLM's proxy CLI in its own virtualenv, created and installed from PyPI on first use."""
    executable = venv / "bin" / "litellm"
    if not executable.exists():
        print(f"installing {LITELLM_REQUIREMENT} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", LITELLM_REQUIREMENT], check=True)
    return executable


def start_litellm(workdir: Path, upstream_port: int, venv: Path) -> Setup:
    port = free_port()
    conf = workdir / "litellm.yaml"
    conf.write_text(LITELLM_CONF.format(upstream=upstream_port, key=KEY))
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "PYTHONPATH")}
    env.update(LITELLM_LOG="ERROR", LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
    process = subprocess.Popen(
        [str(litellm_executable(venv)), "--config", str(conf), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=workdir,
    )
    wait_port(port, process, "LiteLLM proxy", seconds=180)
    return Setup("LiteLLM proxy", f"http://127.0.0.1:{port}{CHAT_PATH}", True, process)


# -- load -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process and its live descendants have used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in children)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    chunks: int = 0
    wall: float = 0.0
    proxy_cpu: float = 0.0
    runtime_cpu: float = 0.0
    # Warm-up requests are not measured but reach the proxy all the same.
    warm_up_requests: int = 0
    warm_up_chunks: int = 0

    def p(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000

    def ttfb_p50(self) -> float:
        return statistics.median(self.ttfbs) * 1000

    def merge(self, other: Result) -> None:
        self.latencies += other.latencies
        self.ttfbs += other.ttfbs
        self.chunks += other.chunks
        self.wall += other.wall
        self.proxy_cpu += other.proxy_cpu
        self.runtime_cpu += other.runtime_cpu
        self.warm_up_requests += other.warm_up_requests
        self.warm_up_chunks += other.warm_up_chunks

    @property
    def throughput(self) -> float:
        return self.chunks / self.wall


async def load(setup: Setup, streams: int, requests_per_stream: int, runtime_pid: int) -> Result:
    body = {"model": "bench", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"} if setup.auth else {}
    proxy_pid = setup.process.pid if setup.process else None
    warm_up, result = Result(), Result()

    async def worker(session: aiohttp.ClientSession, count: int, result: Result) -> None:
        for _ in range(count):
            started = time.perf_counter()
            first = None
            async with session.post(setup.url, json=body, headers=headers) as response:
                if response.status != 200:
                    raise SystemExit(f"{setup.name} answered {response.status}")
                async for line in response.content:
                    if first is None:
                        first = time.perf_counter() - started
                    if line.startswith(b"data: {"):
                        result.chunks += 1
            result.latencies.append(time.perf_counter() - started)
            result.ttfbs.append(first or 0.0)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(worker(session, 1, warm_up) for _ in range(streams)))  # open and warm the connections
        runtime_cpu, proxy_cpu = cpu_seconds(runtime_pid), cpu_seconds(proxy_pid) if proxy_pid else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, requests_per_stream, result) for _ in range(streams)))
        result.wall = time.perf_counter() - started
        result.runtime_cpu = cpu_seconds(runtime_pid) - runtime_cpu
        result.proxy_cpu = cpu_seconds(proxy_pid) - proxy_cpu if proxy_pid else 0.0
    result.warm_up_requests, result.warm_up_chunks = len(warm_up.latencies), warm_up.chunks
    return result


def set_pacing(runtime_port: int, milliseconds: float) -> None:
    async def put() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://127.0.0.1:{runtime_port}/pace", data=str(milliseconds)) as response:
                response.raise_for_status()

    asyncio.run(put())


def report(pacing: float, streams: int, results: dict[str, Result], rows: list[str]) -> None:
    """Print one block of figures and add its rows to the closing Markdown table."""
    base, nginx = results["direct"], results.get("nginx (plain proxy)")
    width = max(map(len, results))
    print(f"\n{pacing:g} ms pacing, {streams} concurrent stream(s), {len(base.latencies)} requests per setup:")
    print(f"  {'direct':<{width}} TTFB p50 {base.ttfb_p50():8.2f} ms  total p50 {base.p(50):8.2f} ms  "
          f"p99 {base.p(99):8.2f} ms  {base.throughput:8.0f} chunks/s")
    for name, res in results.items():
        if name == "direct":
            continue
        ttfb = res.ttfb_p50() - base.ttfb_p50()
        p50, p99 = res.p(50) - base.p(50), res.p(99) - base.p(99)
        share = res.throughput / base.throughput
        per_request = 1000 / len(res.latencies)
        cpu, runtime_cpu = res.proxy_cpu * per_request, res.runtime_cpu * per_request
        against_nginx = f"{res.proxy_cpu / nginx.proxy_cpu:.2f}" if nginx and nginx.proxy_cpu else "n/a"
        print(f"  {name:<{width}} added TTFB p50 {ttfb:+7.2f} ms, total p50 {p50:+7.2f} / p99 {p99:+7.2f} ms, "
              f"throughput {share:6.1%} of direct, CPU per request {cpu:.2f} ms (runtime {runtime_cpu:.2f} ms, "
              f"x nginx {against_nginx})")
        against_runtime = f"{cpu / runtime_cpu:.2f}" if runtime_cpu else "n/a"  # below the clock tick
        rows.append(f"| {name} | {streams} | {pacing:g} ms | {ttfb:+.2f} ms | {p50:+.2f} / {p99:+.2f} ms | "
                    f"{share:.1%} | {cpu:.2f} ms | {against_runtime} | {against_nginx} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=16, help="chunks per streamed response")
    parser.add_argument("--pacing-ms", type=float, nargs="+", default=[10.0, 0.0],
                        help="runtime pacing between chunks, one block of figures each (0: none)")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 64], help="concurrent streams, one block each")
    parser.add_argument("--requests-single", type=int, default=40, help="sequential requests at 1 stream, per round")
    parser.add_argument("--requests-per-stream", type=int, default=3, help="requests per stream when concurrent, per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per setup")
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx comparison")
    parser.add_argument("--nginx-lua", action="store_true",
                        help="also run nginx with the gateway's per-request work in Lua (a data-plane estimate)")
    parser.add_argument("--asyncio-loop", action="store_true", help="also run the gateway on asyncio's own loop")
    parser.add_argument("--litellm", action="store_true", help=f"also measure LiteLLM's proxy ({LITELLM_REQUIREMENT})")
    parser.add_argument("--litellm-venv", type=Path, default=DEFAULT_LITELLM_VENV,
                        help="virtualenv for LiteLLM, created and installed from PyPI if missing")
    parser.add_argument("--baseline-python", help="also run the gateway of the checkout this interpreter imports")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    runtime_port = free_port()
    runtime = subprocess.Popen(
        [sys.executable, "-c", f"from benchmarks.gateway_overhead import run_runtime; run_runtime({runtime_port}, {args.tokens})"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    upstream = f"http://127.0.0.1:{runtime_port}"
    setups: list[Setup] = [Setup("direct", f"{upstream}{CHAT_PATH}", False)]
    try:
        wait_port(runtime_port, runtime, "fake runtime")
        setups.append(start_gateway(workdir, upstream, "gateway", sys.executable, "auto"))
        if args.baseline_python:
            setups.append(start_gateway(workdir, upstream, "gateway (baseline)", args.baseline_python, "auto"))
        if args.asyncio_loop:
            setups.append(start_gateway(workdir, upstream, "gateway (asyncio loop)", sys.executable, "asyncio"))
        if not args.no_nginx:
            nginx = start_nginx(workdir, runtime_port)
            if nginx is None:
                print("nginx not installed: skipping the nginx comparison (apt-get install nginx-light)")
            else:
                setups.append(nginx)
        if args.nginx_lua:
            setups.append(start_nginx_lua(workdir, runtime_port))
        if args.litellm:
            setups.append(start_litellm(workdir, runtime_port, args.litellm_venv))
        print(f"runtime: {args.tokens} SSE chunks per response; {os.cpu_count()} CPUs shared by client, proxies and "
              f"runtime; {args.rounds} interleaved rounds")
        rows: list[str] = []
        sent = {setup.name: Result() for setup in setups}
        for pacing in args.pacing_ms:
            set_pacing(runtime_port, pacing)
            for streams in args.streams:
                per_stream = args.requests_single if streams == 1 else args.requests_per_stream
                results = {setup.name: Result() for setup in setups}
                for _ in range(args.rounds):  # interleave, so background load hits every setup alike
                    for setup in setups:
                        results[setup.name].merge(asyncio.run(load(setup, streams, per_stream, runtime.pid)))
                report(pacing, streams, results, rows)
                for name, result in results.items():
                    sent[name].merge(result)
        for setup in setups:
            if setup.check is not None:
                setup.check(sent[setup.name])
        print("\n| setup | streams | pacing | added TTFB p50 | added total p50 / p99 | throughput vs direct "
              "| proxy CPU per request | proxy CPU / runtime CPU | proxy CPU / nginx CPU |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        processes = [setup.process for setup in setups if setup.process is not None] + [runtime]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
