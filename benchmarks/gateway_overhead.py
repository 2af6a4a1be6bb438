"""Measure what the serving gateway adds: direct-to-runtime versus through-the-gateway, streaming.

Runs a paced fake OpenAI runtime (SSE, one chunk per token), the real gateway process and, when
Debian's nginx is installed, nginx as a plain reverse proxy for comparison; all on loopback, with
bounded request counts. Prints added p50/p99 latency (ms) and the throughput ratio per setup, and
the CPU time the gateway process spends per request against the runtime's own (the CPU ratio
holds steady on a machine shared with other work, where latencies do not).

    python benchmarks/gateway_overhead.py [--tokens 16] [--token-interval-ms 10] [--no-nginx]
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
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from slm_deploy.servers.gateway.config import GatewayConfig, config_to_toml

KEY = "sk-benchmark-key-000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the fake runtime (runs in its own process) ---------------------------------------------------


def run_runtime(port: int, tokens: int, interval: float) -> None:
    """A paced SSE chat endpoint that also reports usage, like vLLM with include_usage."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(tokens):
            if interval:
                await asyncio.sleep(interval)
            await response.write(b'data: {"id":"b","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" tok"}}]}\n\n')
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": tokens}}
            await response.write(f"data: {json.dumps(usage)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- processes ----------------------------------------------------------------------------------


def wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def start_gateway(workdir: Path, upstream: str, event_loop: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    workdir = workdir / f"gateway-{event_loop}"
    workdir.mkdir()
    (workdir / "keys").write_text(f"bench:{KEY}\n")
    config = GatewayConfig(
        upstream_url=upstream, key_file=str(workdir / "keys"), route_table="vllm", listen_host="127.0.0.1",
        listen_port=port, metrics_host="127.0.0.1", metrics_port=free_port(),
    )
    (workdir / "gateway.toml").write_text(config_to_toml(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "slm_deploy.servers.gateway", "--config", str(workdir / "gateway.toml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SLM_GATEWAY_EVENT_LOOP": event_loop},
    )
    wait_port(port, process, "gateway")
    return process, port


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


def start_nginx(workdir: Path, upstream_port: int) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return None
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, upstream=upstream_port, port=port))
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port, process, "nginx")
    return process, port


# -- load -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    latencies: list[float]
    ttfts: list[float]
    chunks: int
    wall: float
    proxy_cpu: float = 0.0
    runtime_cpu: float = 0.0

    def p(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000

    def merge(self, other: "Result") -> None:
        self.latencies += other.latencies
        self.ttfts += other.ttfts
        self.chunks += other.chunks
        self.wall += other.wall
        self.proxy_cpu += other.proxy_cpu
        self.runtime_cpu += other.runtime_cpu

    @property
    def throughput(self) -> float:
        return self.chunks / self.wall


async def load(
    url: str, streams: int, requests_per_stream: int, auth: bool, runtime_pid: int, proxy_pid: int | None
) -> Result:
    body = {"model": "bench", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"} if auth else {}
    latencies: list[float] = []
    ttfts: list[float] = []
    chunks = 0

    async def worker(session: aiohttp.ClientSession, count: int = requests_per_stream) -> None:
        nonlocal chunks
        for _ in range(count):
            started = time.perf_counter()
            first = None
            async with session.post(url, json=body, headers=headers) as response:
                if response.status != 200:
                    raise SystemExit(f"{url} answered {response.status}")
                async for line in response.content:
                    if first is None:
                        first = time.perf_counter() - started
                    if line.startswith(b"data: {"):
                        chunks += 1
            latencies.append(time.perf_counter() - started)
            ttfts.append(first or 0.0)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session, 1) for _ in range(streams)))  # open and warm the connections
        latencies.clear(), ttfts.clear()
        chunks = 0
        runtime_cpu, proxy_cpu = cpu_seconds(runtime_pid), cpu_seconds(proxy_pid) if proxy_pid else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(streams)))
        wall = time.perf_counter() - started
        runtime_cpu = cpu_seconds(runtime_pid) - runtime_cpu
        proxy_cpu = cpu_seconds(proxy_pid) - proxy_cpu if proxy_pid else 0.0
    return Result(latencies, ttfts, chunks, wall, proxy_cpu, runtime_cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=16, help="chunks per streamed response")
    parser.add_argument("--token-interval-ms", type=float, default=10.0, help="runtime pacing between chunks (0: none)")
    parser.add_argument("--requests-single", type=int, default=40, help="sequential requests at 1 stream, per round")
    parser.add_argument("--requests-per-stream", type=int, default=3, help="requests per stream at 64 streams, per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per setup")
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx comparison")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    runtime_port = free_port()
    runtime = subprocess.Popen(
        [sys.executable, "-c", f"from benchmarks.gateway_overhead import run_runtime; run_runtime({runtime_port}, {args.tokens}, {args.token_interval_ms / 1000})"],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    processes: list[subprocess.Popen[bytes]] = [runtime]
    try:
        wait_port(runtime_port, runtime, "fake runtime")
        direct = f"http://127.0.0.1:{runtime_port}/v1/chat/completions"
        targets: dict[str, tuple[str, bool]] = {}
        pids: dict[str, int] = {}
        for loop_name in ("auto", "asyncio"):
            gateway, gateway_port = start_gateway(workdir, f"http://127.0.0.1:{runtime_port}", loop_name)
            processes.append(gateway)
            label = "gateway (uvloop)" if loop_name == "auto" else "gateway (asyncio loop)"
            targets[label] = (f"http://127.0.0.1:{gateway_port}/v1/chat/completions", True)
            pids[label] = gateway.pid
        if not args.no_nginx:
            nginx = start_nginx(workdir, runtime_port)
            if nginx is None:
                print("nginx not installed: skipping the nginx comparison (apt-get install nginx-light)")
            else:
                processes.append(nginx[0])
                targets["nginx (plain proxy)"] = (f"http://127.0.0.1:{nginx[1]}/v1/chat/completions", False)
        print(f"runtime: {args.tokens} SSE chunks per response, {args.token_interval_ms} ms apart; "
              f"{os.cpu_count()} CPUs shared by client, proxies and runtime; {args.rounds} interleaved rounds")
        all_targets = {"direct": (direct, False), **targets}
        for streams, per_stream in ((1, args.requests_single), (64, args.requests_per_stream)):
            results = {name: Result([], [], 0, 0.0) for name in all_targets}
            for _ in range(args.rounds):  # interleave, so background load hits every setup alike
                for name, (url, auth) in all_targets.items():
                    results[name].merge(asyncio.run(load(url, streams, per_stream, auth, runtime.pid, pids.get(name))))
            base = results["direct"]
            print(f"\n{streams} concurrent stream(s), {len(base.latencies)} requests per setup:")
            print(f"  {'direct':<25} p50 {base.p(50):8.2f} ms  p99 {base.p(99):8.2f} ms  {base.throughput:9.0f} chunks/s")
            for name in targets:
                res = results[name]
                ttft_added = (statistics.median(res.ttfts) - statistics.median(base.ttfts)) * 1000
                print(f"  {name:<25} p50 {res.p(50):8.2f} ms  p99 {res.p(99):8.2f} ms  {res.throughput:9.0f} chunks/s"
                      f"  | added p50 {res.p(50) - base.p(50):+6.2f} ms, p99 {res.p(99) - base.p(99):+6.2f} ms,"
                      f" TTFT p50 {ttft_added:+6.2f} ms, throughput {res.throughput / base.throughput:6.1%} of direct")
                if name in pids:
                    per_request = 1000 / len(res.latencies)
                    print(f"  {'':<25} CPU per request: gateway {res.proxy_cpu * per_request:.2f} ms,"
                          f" runtime {res.runtime_cpu * per_request:.2f} ms"
                          f" (gateway / runtime {res.proxy_cpu / max(res.runtime_cpu, 1e-9):.2f})")
    finally:
        for process in reversed(processes):
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
