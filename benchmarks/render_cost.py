"""Render cost against a floor measured in the same run; prints ratios, never asserts timings.

For each example stack: `slm-deploy render` in a fresh interpreter, against a floor that is a fresh
interpreter serialising the very same output (YAML documents dumped with PyYAML, other files written
as they are). For fleets of 10, 50 and 100 deployments rendered in one process: the time per service,
to show that cost grows linearly with the number of services.

Usage: python benchmarks/render_cost.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
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


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _floor_input(bundle_dir: Path, target: Path) -> None:
    """The bundle's content as data: parsed YAML documents and verbatim text for everything else."""
    data = {}
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_file():
            name = path.relative_to(bundle_dir).as_posix()
            text = path.read_text()
            data[name] = ("yaml", yaml.safe_load(text)) if name.endswith(".yaml") else ("text", text)
    target.write_text(json.dumps(data))


def bench_stacks(repeat: int) -> list[tuple[str, float, float]]:
    rows = []
    cli = [sys.executable, "-m", "slm_deploy.cli", "render"]
    for stack in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            subprocess.run([*cli, str(stack), "--out", str(tmp_path / "seed")], check=True, capture_output=True)
            _floor_input(tmp_path / "seed", tmp_path / "floor.json")
            renders, floors = [], []
            for i in range(repeat):
                floors.append(_seconds([sys.executable, "-c", FLOOR_PROGRAM, str(tmp_path / "floor.json"),
                                        str(tmp_path / f"floor-{i}")]))
                renders.append(_seconds([*cli, str(stack), "--out", str(tmp_path / f"render-{i}")]))
        rows.append((stack.stem.removeprefix("Pulumi."), statistics.median(renders), statistics.median(floors)))
    return rows


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
                      "targets": {"docker": {"registry": "registry.example.com"}, "compose": {}, "kubernetes": {}},
                      "secrets": {"api-keys": {"backend": "kubernetes"}}})
    return specs


def bench_fleet(sizes: tuple[int, ...]) -> list[tuple[int, float]]:
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.spec.loader import parse_deployment

    render_bundle(parse_deployment(_fleet_specs(1)[0]))  # warm caches (templates, pins, catalogue)
    rows = []
    for size in sizes:
        specs = _fleet_specs(size)
        started = time.perf_counter()
        for spec in specs:
            render_bundle(parse_deployment(spec))
        rows.append((size, time.perf_counter() - started))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'stack':<24}{'render s':>10}{'floor s':>10}{'ratio':>8}")
    for name, render, floor in bench_stacks(args.repeat):
        print(f"{name:<24}{render:>10.3f}{floor:>10.3f}{render / floor:>8.2f}")
    print()
    rows = bench_fleet((10, 50, 100))
    base = rows[0][1] / rows[0][0]
    print(f"{'fleet size':<24}{'total s':>10}{'ms/svc':>10}{'vs 10':>8}")
    for size, total in rows:
        print(f"{size:<24}{total:>10.3f}{1000 * total / size:>10.1f}{(total / size) / base:>8.2f}")


if __name__ == "__main__":
    main()
