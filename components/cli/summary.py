"""The resolved plan as data (for --json) and as a table, so users see what the sizing chose."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slm_deploy.render.deployable import deployable_plan
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.quantity import human_gib

if TYPE_CHECKING:
    from rich.table import Table


def plan_summary(deployment: Deployment) -> dict[str, Any]:
    """What the spec resolved to: model, tier, memory, runtime flags and images."""
    spec, model, sizing = deployment.spec, deployment.model, deployment.sizing
    plan = deployable_plan(deployment)
    runtime = next(iter(plan.by_role("runtime")), None)
    return {
        "name": spec.name,
        "runtime": spec.runtime.kind,
        "model": model.id,
        "quantisation": model.quantisation.value,
        "tier": sizing.tier,
        "parameters_billion": model.parameters_billion or None,  # unknown for a Foundry Local host source
        "context_length": sizing.context_length,
        "concurrency": sizing.concurrency,
        "weights_bytes": sizing.weights_bytes,
        "kv_cache_bytes": sizing.kv_cache_bytes,
        "memory_limit_bytes": sizing.host_memory_bytes,
        "gpu_memory_needed_bytes": sizing.gpu_memory_needed_bytes,
        "gpu_memory_utilisation": sizing.gpu_memory_utilisation,
        "preparation_memory_bytes": sizing.preparation_memory_bytes,
        "startup_budget_seconds": sizing.startup_budget_seconds,
        "targets": [name for name in ("docker", "compose", "kubernetes", "aks", "host")
                    if getattr(spec.targets, name) is not None],
        "services": [s.name for s in plan.services] + [h.service for h in plan.hosts],
        "image": runtime.image.reference if runtime and runtime.image else None,
        "args": list(runtime.args) if runtime else [],
        "env": dict(runtime.env) if runtime else {},
    }


def summary_table(summaries: list[dict[str, Any]]) -> Table:
    """One row per deployment with the numbers a reviewer checks first."""
    from rich.table import Table

    table = Table(title="slm-deploy plan", show_lines=False)
    for column in ("deployment", "runtime", "model", "tier", "context x seq", "weights", "KV cache",
                   "memory limit", "GPU need", "prep memory", "startup", "targets"):
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s["name"], s["runtime"], f"{s['model']} ({s['quantisation']})", s["tier"],
            f"{s['context_length']} x {s['concurrency']}", human_gib(s["weights_bytes"]),
            human_gib(s["kv_cache_bytes"]), human_gib(s["memory_limit_bytes"]),
            human_gib(s["gpu_memory_needed_bytes"]) if s["gpu_memory_needed_bytes"] else "-",
            human_gib(s["preparation_memory_bytes"]) if s["preparation_memory_bytes"] else "-",
            f"{s['startup_budget_seconds']}s", ",".join(s["targets"]),
        )
    return table


def render_summary(name: str, target: Path, files: Iterable[str]) -> dict[str, Any]:
    """What `render` wrote: the bundle directory, every file, and how many per top-level part."""
    written = sorted(files)
    parts = Counter(f.split("/", 1)[0] if "/" in f else "." for f in written)
    return {"name": name, "out": str(target), "files_written": len(written),
            "by_part": dict(sorted(parts.items())), "files": written}


def render_summary_text(summary: dict[str, Any]) -> str:
    """One line per part, under a headline a user can read at a glance."""
    lines = [f"rendered {summary['name']}: {summary['files_written']} files in {summary['out']}"]
    lines += [f"  {part + '/' if part != '.' else '(top level)'}: {count}"
              for part, count in summary["by_part"].items()]
    lines.append(f"next: slm-deploy check {summary['out']}")
    return "\n".join(lines)
