"""Render cost against a floor measured in the same run; prints ratios, never asserts timings.

For each example stack: `slm-deploy render` as a whole process, against a floor that is a fresh interpreter
importing PyYAML and writing the very same bytes (YAML documents dumped with PyYAML, other files as they are),
and, with --helm-chart, against Helm rendering that chart in-process (helm-python-sdk, its Go library loaded by
a fresh interpreter that writes the manifests out), all three interleaved. For a fleet: one process rendering
100 specs (`slm-deploy render SPEC... --out DIR`) against one process rendering one of them. Each figure is the
median of --repeat runs, as wall time and as CPU time (user + system of the child process, all its threads): on
a machine shared with other work the CPU ratio holds steady where wall time does not.

Children run with bytecode caching on, as an installed package does (pip compiles it at install time), whatever
PYTHONDONTWRITEBYTECODE says here; the first, unmeasured render of each stack fills the cache.

Usage: python benchmarks/render_cost.py [--repeat N] [--fleet N] [--helm-chart DIR [--helm-python PYTHON]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLOOR_PROGRAM = """
import json, sys, yaml
from pathlib import Path
data = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
for name, (kind, value) in data.items():
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=4096) if kind == "yaml" else value
    path.write_text(text)
"""
HELM_PROGRAM = """
import sys
from pathlib import Path
import helm_python
out = Path(sys.argv[2])
with helm_python.Chart.load(sys.argv[1]) as chart:
    manifests = chart.render(name="bench", namespace="default", is_install=True)
for name, text in manifests.items():
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
"""
LIBRARIES_PROGRAM = "import jinja2, pydantic, typer, yaml; from pydantic import BaseModel"
"""What any render pays before its own code runs: importing the libraries it is built on."""
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _cost(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=CHILD_ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median_cost(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


CLI = [sys.executable, "-m", "slm_deploy.cli", "render"]


def _floor_input(bundle_dir: Path, target: Path) -> None:
    """The bundle's content as data: parsed YAML documents and verbatim text for everything else."""
    data = {}
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_file():
            name = path.relative_to(bundle_dir).as_posix()
            text = path.read_text()
            data[name] = ("yaml", yaml.safe_load(text)) if name.endswith(".yaml") else ("text", text)
    target.write_text(json.dumps(data))


Cost = tuple[float, float]


def bench_stacks(repeat: int, helm: list[str] | None) -> list[tuple[str, Cost, Cost, Cost | None]]:
    """Per example stack: (wall, cpu) of a whole `render` process, of the floor and of Helm (when given a chart),
    the three interleaved."""
    rows = []
    for stack in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            subprocess.run([*CLI, str(stack), "--out", str(tmp_path / "seed")], check=True, capture_output=True,
                           env=CHILD_ENV)
            _floor_input(tmp_path / "seed", tmp_path / "floor.json")
            renders, floors, helms = [], [], []
            for i in range(repeat):
                floors.append(_cost([sys.executable, "-c", FLOOR_PROGRAM, str(tmp_path / "floor.json"),
                                     str(tmp_path / f"floor-{i}")]))
                renders.append(_cost([*CLI, str(stack), "--out", str(tmp_path / f"render-{i}")]))
                if helm:
                    helms.append(_cost([*helm, str(tmp_path / f"helm-{i}")]))
        rows.append((stack.stem.removeprefix("Pulumi."), _median_cost(renders), _median_cost(floors),
                     _median_cost(helms) if helms else None))
    return rows


def bench_libraries(repeat: int) -> Cost:
    """(wall, cpu) of a fresh interpreter that only imports the libraries a render is built on."""
    return _median_cost([_cost([sys.executable, "-c", LIBRARIES_PROGRAM]) for _ in range(repeat)])


def _fleet_specs(size: int) -> list[dict]:
    """A fleet mixing the container runtimes, each a distinct deployment."""
    kinds = [
        ({"id": "qwen3-1.7b"}, {"kind": "llamacpp"}, {}),
        ({"id": "llama-3.2-1b-instruct"}, {"kind": "ollama"}, {}),
        ({"id": "phi-4-mini-instruct"}, {"kind": "vllm"}, {"gpu": {"count": 1, "type": "nvidia-a100-80gb"}}),
    ]
    specs = []
    for i in range(size):
        model, runtime, resources = kinds[i % len(kinds)]
        specs.append({"name": f"svc-{i:03d}", "model": model, "runtime": runtime, "resources": resources,
                      "targets": {"docker": {"registry": "registry.example.com"}, "compose": {},
                                  "kubernetes": {"monitoring_namespace": f"svc-{i:03d}-monitoring"}},
                      "secrets": {"api-keys": {"backend": "kubernetes"}}})
    return specs


def bench_fleet(size: int, repeat: int) -> tuple[Cost, Cost]:
    """(wall, cpu) of one process rendering the fleet's first spec, and of one process rendering all `size`."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        paths = []
        for spec in _fleet_specs(size):
            path = tmp_path / f"{spec['name']}.yaml"
            path.write_text(yaml.safe_dump(spec))
            paths.append(str(path))
        ones, fleets = [], []
        for i in range(repeat):
            ones.append(_cost([*CLI, paths[0], "--out", str(tmp_path / f"one-{i}")]))
            fleets.append(_cost([*CLI, *paths, "--out", str(tmp_path / f"fleet-{i}")]))
    return _median_cost(ones), _median_cost(fleets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fleet", type=int, default=100, help="specs rendered by the fleet process")
    parser.add_argument("--helm-chart", type=Path, help="a chart directory (ollama-helm) Helm renders in the same run")
    parser.add_argument("--helm-python", default=sys.executable,
                        help="an interpreter that can import helm_python (pip install helm-python-sdk)")
    args = parser.parse_args()
    helm = [args.helm_python, "-c", HELM_PROGRAM, str(args.helm_chart.resolve())] if args.helm_chart else None
    print("one render as a whole process, against a floor that imports PyYAML and writes the same bytes"
          + (f" and Helm rendering {args.helm_chart.name} in-process" if helm else ""))
    print(f"{'stack':<24}{'render s':>10}{'floor s':>10}{'ratio':>8}{'cpu s':>10}{'floor cpu':>10}{'cpu ratio':>10}"
          + (f"{'helm s':>10}{'helm cpu':>10}{'x helm':>8}{'cpu x helm':>11}" if helm else ""))
    for name, (wall, cpu), (floor_wall, floor_cpu), helm_cost in bench_stacks(args.repeat, helm):
        line = (f"{name:<24}{wall:>10.3f}{floor_wall:>10.3f}{wall / floor_wall:>8.2f}"
                f"{cpu:>10.3f}{floor_cpu:>10.3f}{cpu / floor_cpu:>10.2f}")
        if helm_cost:
            helm_wall, helm_cpu = helm_cost
            line += f"{helm_wall:>10.3f}{helm_cpu:>10.3f}{wall / helm_wall:>8.2f}{cpu / helm_cpu:>11.2f}"
        print(line)
    libraries_wall, libraries_cpu = bench_libraries(args.repeat)
    print(f"{'libraries only':<24}{libraries_wall:>10.3f}{'':>18}{libraries_cpu:>10.3f}"
          "   (importing Jinja2, pydantic, typer and PyYAML, nothing else)")
    print()
    (one_wall, one_cpu), (fleet_wall, fleet_cpu) = bench_fleet(args.fleet, max(1, args.repeat // 2))
    n = args.fleet
    print(f"{n} specs in one process against one spec in one process")
    print(f"{'':<24}{'wall s':>10}{'cpu s':>10}")
    print(f"{'1 spec':<24}{one_wall:>10.3f}{one_cpu:>10.3f}")
    print(f"{f'{n} specs':<24}{fleet_wall:>10.3f}{fleet_cpu:>10.3f}")
    print(f"{'ratio, whole process':<24}{fleet_wall / one_wall:>10.2f}{fleet_cpu / one_cpu:>10.2f}")
    print(f"{'ratio, per spec':<24}{fleet_wall / n / one_wall:>10.2f}{fleet_cpu / n / one_cpu:>10.2f}")
    print(f"{'each further spec, ms':<24}{1000 * (fleet_wall - one_wall) / (n - 1):>10.1f}"
          f"{1000 * (fleet_cpu - one_cpu) / (n - 1):>10.1f}")


if __name__ == "__main__":
    main()
