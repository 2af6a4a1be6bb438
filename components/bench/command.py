"""`slm-deploy bench ENDPOINT`: open- and closed-loop load with TTFT, ITL, latency, throughput, goodput, memory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slm_deploy.errors import SlmDeployError

EXIT_NOTHING_MEASURED = 1
err = Console(stderr=True, highlight=False)


class BenchOptionError(SlmDeployError):
    """A bench option is malformed or missing; names the option."""


def _model(endpoint: str, headers: dict[str, str], timeout: float) -> str:
    """The first model the endpoint lists, as vLLM's benchmark client also picks by default."""
    import httpx

    try:
        response = httpx.get(f"{endpoint}/v1/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise BenchOptionError(f"ENDPOINT: cannot list models ({type(exc).__name__})\n"
                               "  hint: check the URL, or name the model with --model") from None
    data = response.json().get("data") if response.status_code == 200 else None
    if not data:
        raise BenchOptionError(f"ENDPOINT: GET /v1/models answered {response.status_code} without models\n"
                               "  hint: pass --api-key-file, or name the model with --model")
    return str(data[0]["id"])


def _writable(option: str, path: Path | None) -> None:
    """Fail before any load is sent when an output could not be written afterwards."""
    if path is not None and (not path.parent.is_dir() or path.is_dir()):
        raise BenchOptionError(f"{option}: its folder does not exist, or it names a folder\n"
                               "  allowed: a file path in an existing folder")


def _outputs(runs: list[dict], json_out: Path | None, png: Path | None, html: Path | None) -> None:
    from slm_deploy.bench.charts import write_html, write_png
    from slm_deploy.bench.run import write_results

    for option, path, write in (("--json-out", json_out, write_results), ("--png", png, write_png),
                                ("--html", html, write_html)):
        if path is None:
            continue
        try:
            write(runs, path)
        except OSError as exc:
            raise BenchOptionError(f"{option}: cannot write it ({type(exc).__name__})") from None


def _show(runs: list[dict], as_json: bool) -> None:
    from slm_deploy.bench.report import bench_table

    if as_json:
        import json

        sys.stdout.write(json.dumps([{k: v for k, v in r.items() if k != "requests"} for r in runs], indent=2) + "\n")
    else:
        (Console() if sys.stdout.isatty() else Console(width=160)).print(bench_table(runs))


def bench(
    endpoint: Annotated[str, typer.Argument(help="Base URL clients use, e.g. http://127.0.0.1:8080.")],
    rate: Annotated[list[float] | None, typer.Option("--rate", min=0.001, max=10_000,
                                                     help="Open loop: Poisson arrivals at this many requests/s "
                                                          "(repeatable, one run each).")] = None,
    concurrency: Annotated[list[int] | None, typer.Option("--concurrency", min=1, max=4096,
                                                          help="Closed loop: this many streams, each sending "
                                                               "its next request when one ends (repeatable).")] = None,
    duration: Annotated[float, typer.Option("--duration", min=1, max=86_400, help="Seconds measured per run.")] = 30,
    warmup: Annotated[float, typer.Option("--warmup", min=0, max=3600,
                                          help="Seconds of load before measuring (their requests are left out).")] = 5,
    prompt_tokens: Annotated[str, typer.Option("--prompt-tokens", help="Prompt length: N, uniform:A-B or "
                                                                       "normal:MEAN,SD.")] = "uniform:32-128",
    output_tokens: Annotated[str, typer.Option("--output-tokens", help="max_tokens per request, same forms.")] = "64",
    ignore_eos: Annotated[bool, typer.Option("--ignore-eos", help="Ask for exactly max_tokens (vLLM and llama.cpp "
                                                                  "accept `ignore_eos`; others refuse it).")] = False,
    spec: Annotated[Path | None, typer.Option("--spec", dir_okay=False,
                                              help="Take the model, the SLO and the memory metric from the spec.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name (default: the spec's, else the "
                                                              "first listed).")] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file", dir_okay=False,
                                                      help="A key alone, or the gateway's key_id:key file.")] = None,
    slo_ttft: Annotated[float | None, typer.Option("--slo-ttft", min=0.001, help="Goodput: seconds to first token "
                                                                                  "(default: the spec's SLO).")] = None,
    slo_tpot: Annotated[float | None, typer.Option("--slo-tpot", min=0.0001,
                                                   help="Goodput: seconds per output token after the first.")] = None,
    slo_e2e: Annotated[float | None, typer.Option("--slo-e2e", min=0.001, help="Goodput: seconds end to end "
                                                                                "(default: the spec's SLO).")] = None,
    metrics_url: Annotated[str | None, typer.Option("--metrics-url", help="The runtime's Prometheus metrics, "
                                                                          "sampled each second for memory.")] = None,
    memory_metric: Annotated[str | None, typer.Option("--memory-metric", help="Series holding resident memory "
                                                                              "(default process_resident_memory_bytes"
                                                                              ").")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Prefix of this invocation's run labels, e.g. the "
                                                              "runtime's name.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of arrivals and lengths.")] = 0,
    timeout: Annotated[float, typer.Option("--timeout", min=1, max=3600, help="Seconds per request.")] = 300,
    max_in_flight: Annotated[int, typer.Option("--max-in-flight", min=1, max=100_000,
                                               help="Open loop: arrivals beyond this many in flight are counted "
                                                    "as dropped, not sent.")] = 512,
    compare: Annotated[list[Path] | None, typer.Option("--compare", dir_okay=False,
                                                       help="Earlier --json-out files to show alongside "
                                                            "(repeatable).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json-out", dir_okay=False, help="Write the runs (with every "
                                                                                     "request) as JSON.")] = None,
    png: Annotated[Path | None, typer.Option("--png", dir_okay=False, help="Write the comparison chart.")] = None,
    html: Annotated[Path | None, typer.Option("--html", dir_okay=False,
                                              help="Write the comparison as a self-contained page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON instead of a table.")] = False,
) -> None:
    """Load ENDPOINT and measure TTFT, inter-token latency, end-to-end latency, tokens/s, goodput and memory."""
    from slm_deploy.bench.load import LoadPlan, Target
    from slm_deploy.bench.memory import DEFAULT_METRIC
    from slm_deploy.bench.run import read_results, run_benchmark
    from slm_deploy.bench.stats import Slo
    from slm_deploy.bench.workload import parse_lengths
    from slm_deploy.smoke.command import http_url
    from slm_deploy.smoke.keys import read_api_key

    base = http_url("ENDPOINT", endpoint)
    scrape = http_url("--metrics-url", metrics_url) if metrics_url else None
    for option, path in (("--json-out", json_out), ("--png", png), ("--html", html)):
        _writable(option, path)
    if not rate and not concurrency:
        raise BenchOptionError("--rate or --concurrency: give at least one load level\n"
                               "  hint: --concurrency 1 measures a single stream")
    prompt, output = parse_lengths("--prompt-tokens", prompt_tokens), parse_lengths("--output-tokens", output_tokens)
    previous = [run for path in compare or () for run in read_results(path)]
    key = read_api_key(api_key_file) if api_key_file else None
    headers = {"Authorization": f"Bearer {key.value}"} if key else {}
    deployment = None
    if spec:
        from slm_deploy.spec.loader import load_deployment

        deployment = load_deployment(spec)
    name = model or (_spec_model(deployment) if deployment else None) or _model(base, headers, timeout)
    slo = Slo(ttft=slo_ttft if slo_ttft is not None else (deployment.spec.monitoring.slo.ttft_p95_seconds
                                                          if deployment else None),
              tpot=slo_tpot,
              e2e=slo_e2e if slo_e2e is not None else (deployment.spec.monitoring.slo.latency_p95_seconds
                                                       if deployment else None))
    metric = memory_metric or (_spec_memory_metric(deployment) if deployment else None) or DEFAULT_METRIC
    target = Target(f"{base}/v1/chat/completions", name, headers)
    plans = [LoadPlan("open", r, duration, warmup, prompt, output, seed, max_in_flight, ignore_eos) for r in rate or ()]
    plans += [LoadPlan("closed", c, duration, warmup, prompt, output, seed, max_in_flight, ignore_eos)
              for c in concurrency or ()]
    runs = []
    for plan in plans:
        run_label = f"{label} {plan.label}" if label else plan.label
        with _progress(run_label, plan.warmup + plan.duration) as update:
            runs.append(run_benchmark(target, plan, slo, label=run_label, memory_url=scrape, memory_metric=metric,
                                      timeout=timeout, progress=update))
    everything = previous + runs
    _outputs(everything, json_out, png, html)
    _show(everything, as_json)
    if not all(run["summary"]["succeeded"] for run in runs):
        err.print("no request succeeded in at least one run; see the errors in --json-out")
        raise typer.Exit(EXIT_NOTHING_MEASURED)


def _spec_model(deployment) -> str:
    from slm_deploy.runtimes.capabilities import client_model_name

    return client_model_name(deployment)


def _spec_memory_metric(deployment) -> str | None:
    from slm_deploy.runtimes.capabilities import capabilities

    return capabilities(deployment).memory_metric


def _progress(label: str, seconds: float):
    """A progress bar over the run's planned time, counting finished requests (on stderr)."""
    import contextlib

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    @contextlib.contextmanager
    def bar():
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]} requests"),
                      TimeRemainingColumn(), console=err, transient=True) as progress:
            task = progress.add_task(label, total=seconds, done=0)
            yield lambda elapsed, done: progress.update(task, completed=min(elapsed, seconds), done=done)
    return bar()


def bench_report(
    results: Annotated[list[Path], typer.Argument(help="Files written by `bench --json-out`.", dir_okay=False)],
    png: Annotated[Path | None, typer.Option("--png", dir_okay=False, help="Write the comparison chart.")] = None,
    html: Annotated[Path | None, typer.Option("--html", dir_okay=False,
                                              help="Write the comparison as a self-contained page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON instead of a table.")] = False,
) -> None:
    """Show saved benchmark runs side by side, and draw them as a chart."""
    from slm_deploy.bench.run import read_results

    runs = [run for path in results for run in read_results(path)]
    _outputs(runs, None, png, html)
    _show(runs, as_json)
