"""Compare slm-deploy bench with GuideLLM on the same endpoint, against a server whose timing is known.

A fake OpenAI-style server (tests/support/fake_upstream.py, in a process of its own so neither client shares an
interpreter with it) sends a role-only chunk at once, the first token after --ttft-ms and each later one
--gap-ms apart; both clients load it with the same closed-loop concurrency, prompt and output lengths for the
same time. Prints what each reports next to what the server was told to do.
GuideLLM is not a dependency of slm-deploy: install it into its own virtualenv and pass its executable.

    python benchmarks/compare_clients.py --guidellm /path/to/venv/bin/guidellm --tokenizer DIR
        [--ttft-ms 250] [--gap-ms 40] [--tokens 16] [--streams 2] [--seconds 20]

DIR is any local Hugging Face tokenizer folder (GuideLLM sizes its synthetic prompts with it); the tiny test
model the suite builds (~/.cache/slm-deploy/tiny-model/*/) has one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slm_deploy.bench.load import LoadPlan, Target  # noqa: E402
from slm_deploy.bench.run import run_benchmark  # noqa: E402
from slm_deploy.bench.stats import Slo  # noqa: E402
from slm_deploy.bench.workload import parse_lengths  # noqa: E402
from tests.support.fake_upstream import FakeBehaviour, fake_upstream  # noqa: E402

PROMPT_TOKENS = 32


def ours(url: str, args: argparse.Namespace) -> dict[str, float]:
    plan = LoadPlan("closed", args.streams, args.seconds, 2.0, parse_lengths("p", str(PROMPT_TOKENS)),
                    parse_lengths("o", str(args.tokens)))
    summary = run_benchmark(Target(f"{url}/v1/chat/completions", "fake-model", {}), plan, Slo(),
                            label="slm-deploy")["summary"]
    return {"ttft_ms_p50": 1000 * summary["ttft_s"]["p50"], "itl_ms_p50": 1000 * summary["itl_s"]["p50"],
            "tpot_ms_mean": 1000 * summary["tpot_s"]["mean"], "e2e_s_p50": summary["e2e_s"]["p50"],
            "output_tokens_per_s": summary["output_tokens_per_s"], "requests_per_s": summary["requests_per_s"]}


def guidellm(url: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "guidellm.json"
        subprocess.run([
            args.guidellm, "run", "--backend", f"kind=openai_http,target={url}",
            "--profile", f"kind=concurrent,streams={args.streams}",
            "--constraint", f"kind=max_duration,seconds={args.seconds:g}",
            "--data", f"kind=synthetic_text,prompt_tokens={PROMPT_TOKENS},output_tokens={args.tokens}",
            "--tokenizer", f"kind=huggingface_auto,model={args.tokenizer}",
            "--output", f"kind=json,path={report}", "--disable-console",
        ], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=folder, timeout=args.seconds * 10 + 120)
        metrics = json.loads(report.read_text())["benchmarks"][0]["metrics"]

    def stat(name: str, key: str) -> float:
        return metrics[name]["successful"][key]

    return {"ttft_ms_p50": stat("time_to_first_token_ms", "median"),
            "itl_ms_p50": stat("inter_token_latency_ms", "median"),
            "tpot_ms_mean": stat("time_per_output_token_ms", "mean"),
            "e2e_s_p50": stat("request_latency", "median"),
            "output_tokens_per_s": stat("output_tokens_per_second", "mean"),
            "requests_per_s": stat("requests_per_second", "mean")}


def injected(args: argparse.Namespace) -> dict[str, float]:
    request = args.ttft_ms / 1000 + args.gap_ms / 1000 * (args.tokens - 1)
    return {"ttft_ms_p50": args.ttft_ms, "itl_ms_p50": args.gap_ms, "tpot_ms_mean": args.gap_ms,
            "e2e_s_p50": request, "output_tokens_per_s": args.streams * args.tokens / request,
            "requests_per_s": args.streams / request}


@contextmanager
def fake_server(args: argparse.Namespace) -> Iterator[str]:
    """This script again with --serve, in its own process; yields the URL it prints."""
    command = [sys.executable, __file__, "--serve", "--ttft-ms", str(args.ttft_ms), "--gap-ms", str(args.gap_ms),
               "--tokens", str(args.tokens)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


def serve(args: argparse.Namespace) -> None:
    """Run the fake until terminated, printing its URL first."""
    behaviour = FakeBehaviour(ttft=args.ttft_ms / 1000, token_gap=args.gap_ms / 1000, tokens=args.tokens, key=None)
    with fake_upstream(behaviour) as server:
        print(server.url, flush=True)
        while True:
            time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guidellm", help="GuideLLM's executable")
    parser.add_argument("--tokenizer", help="a local Hugging Face tokenizer folder")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ttft-ms", type=float, default=250.0)
    parser.add_argument("--gap-ms", type=float, default=40.0)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if not args.guidellm or not args.tokenizer:
        parser.error("--guidellm and --tokenizer are required")
    with fake_server(args) as url:
        columns = {"injected": injected(args), "slm-deploy": ours(url, args), "guidellm": guidellm(url, args)}
    print(f"{'measure':22}" + "".join(f"{name:>14}" for name in columns))
    for measure in columns["injected"]:
        print(f"{measure:22}" + "".join(f"{values[measure]:14.2f}" for values in columns.values()))


if __name__ == "__main__":
    main()
