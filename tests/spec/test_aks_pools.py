"""On the AKS cluster slm-deploy creates, a pod larger than every node of its pool would stay Pending forever: the
conversion of model.prepare and a CPU server land on the apps pool (targets.aks.system_vm_size), a GPU server on the
GPU pool; validation refuses what cannot fit, names the pool's field, and the plan shows the conversion's memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.errors import SpecError
from slm_deploy.spec.aks_pools import GPU_SIZES, VM_SIZES, allocatable
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.quantity import GIB
from slm_deploy.spec.sections import GpuType
from tests.support.cli import run_in_process


def aks_spec(model: str, vm_size: str, **extra: Any) -> dict[str, Any]:
    """A llama.cpp deployment of a catalogue model prepared to q4_k_m, on AKS with the given apps pool size."""
    return {"name": "demo", "model": {"id": model, "prepare": {"format": "gguf"}}, "runtime": {"kind": "llamacpp"},
            "secrets": {"api-keys": {"backend": "kubernetes"}},
            "targets": {"docker": {"registry": "registry.example.com"},
                        "aks": {"private_cluster": True, "system_vm_size": vm_size}}, **extra}


def refused_paths(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as refused:
        parse_deployment(data)
    return [p.path for p in refused.value.problems]


@pytest.mark.parametrize(("model", "vm_size"), [("qwen3-4b", "Standard_D4ds_v5"), ("qwen3-8b", "Standard_D8ds_v5")])
def test_a_conversion_larger_than_an_apps_node_is_refused(model: str, vm_size: str) -> None:
    assert refused_paths(aks_spec(model, vm_size)) == ["targets.aks.system_vm_size"]


def test_the_refusal_names_the_preparation_and_sizes_that_hold_it() -> None:
    with pytest.raises(SpecError) as refused:
        parse_deployment(aks_spec("qwen3-8b", "Standard_D4ds_v5"))
    problem, = (p for p in refused.value.problems if "model.prepare" in p.message)
    assert "31.5 GiB" in problem.message and problem.path == "targets.aks.system_vm_size"
    suggested = problem.allowed.removeprefix("a size that holds it, e.g. ").split(", ")
    assert suggested and all(allocatable(VM_SIZES[name])[1] >= 31.5 * GIB for name in suggested)


@pytest.mark.parametrize(("model", "vm_size"), [("qwen3-4b", "Standard_D8ds_v5"), ("qwen3-8b", "Standard_E8ds_v5"),
                                                ("qwen3-1.7b", "Standard_D4ds_v5")])
def test_a_conversion_that_fits_validates(model: str, vm_size: str) -> None:
    deployment = parse_deployment(aks_spec(model, vm_size))
    assert 0 < deployment.sizing.preparation_memory_bytes <= allocatable(VM_SIZES[vm_size])[1]


def test_a_cpu_server_larger_than_an_apps_node_is_refused() -> None:
    data = aks_spec("qwen3-1.7b", "Standard_D4ds_v5", resources={"cpu": 8, "memory": "60Gi"})
    data["model"].pop("prepare")
    data["runtime"] = {"kind": "ollama"}
    assert refused_paths(data) == ["targets.aks.system_vm_size"]
    data["targets"]["aks"]["system_vm_size"] = "Standard_E16ds_v5"
    parse_deployment(data)


def test_a_gpu_server_is_judged_against_the_gpu_pool() -> None:
    data = aks_spec("qwen3-1.7b", "Standard_D4ds_v5", resources={"cpu": 8, "gpu": {"count": 1, "type": "nvidia-t4"}})
    data["model"].pop("prepare")
    assert refused_paths(data) == ["targets.aks.gpu_vm_size"]  # the default NC4as_T4_v3 has 4 vCPUs
    data["targets"]["aks"]["gpu_vm_size"] = "Standard_NC16as_T4_v3"
    parse_deployment(data)


def test_a_size_outside_the_table_is_not_judged() -> None:
    parse_deployment(aks_spec("qwen3-8b", "Standard_L8s_v3"))


def test_the_plan_shows_the_conversion_memory_the_job_requests(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(aks_spec("qwen3-4b", "Standard_D8ds_v5")), encoding="utf-8")
    result = run_in_process("validate", str(spec), "--json")
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    memory = (plan[0] if isinstance(plan, list) else plan)["preparation_memory_bytes"]
    assert memory == parse_deployment(aks_spec("qwen3-4b", "Standard_D8ds_v5")).sizing.preparation_memory_bytes
    assert run_in_process("render", str(spec), "--out", str(tmp_path / "out")).code == 0
    job, = (tmp_path / "out" / "kubernetes").glob("job-*model-prep*.yaml")
    convert, = (c for c in yaml.safe_load(job.read_text())["spec"]["template"]["spec"]["initContainers"]
                if c["name"] == "convert")
    assert convert["resources"]["requests"]["memory"] == f"{-(-memory // 2**20)}Mi"
    table = run_in_process("validate", str(spec))
    assert "prep memory" in table.stdout and f"{memory / GIB:.1f} GiB" in table.stdout


def gpu_spec(gpu: dict[str, Any], **aks: str) -> dict[str, Any]:
    """A llama.cpp GPU server of a small catalogue model on AKS, with the given GPU and pool sizes."""
    data = aks_spec("qwen3-1.7b", "Standard_D4ds_v5", resources={"cpu": 2, "gpu": gpu})
    data["model"].pop("prepare")
    data["targets"]["aks"].update(aks)
    return data


def refused_in_cli(tmp_path: Path, data: dict[str, Any], field: str, value: str) -> str:
    """Validation exits 2 naming the field and what is allowed, without the value the spec wrote, and renders
    nothing."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_in_process("validate", str(spec))
    assert result.code == 2, result.stderr
    assert field in result.stderr and "allowed" in result.stderr and "Traceback" not in result.stderr
    assert value not in result.stderr + result.stdout
    assert run_in_process("render", str(spec), "--out", str(tmp_path / "out")).code == 2
    assert not (tmp_path / "out").exists()
    return result.stderr


@pytest.mark.parametrize(("gpu", "vm_size", "reason"), [
    ({"count": 2, "type": "nvidia-t4"}, "Standard_NC4as_T4_v3", "fewer GPUs on one node than resources.gpu.count"),
    ({"count": 1, "type": "nvidia-a100-80gb"}, "Standard_NC4as_T4_v3", "GPUs are not of resources.gpu.type"),
    ({"count": 1, "type": "nvidia-h100"}, "Standard_NC24ads_A100_v4", "GPUs are not of resources.gpu.type"),
    ({"count": 1, "type": "nvidia-t4"}, "Standard_D4ds_v5", "a VM size with no GPU"),
])
def test_a_gpu_size_without_the_servers_gpus_is_refused(tmp_path: Path, gpu: dict[str, Any], vm_size: str,
                                                        reason: str) -> None:
    data = gpu_spec(gpu, gpu_vm_size=vm_size)
    assert refused_paths(data) == ["targets.aks.gpu_vm_size"]
    stderr = refused_in_cli(tmp_path, data, "targets.aks.gpu_vm_size", vm_size)
    assert reason in stderr


@pytest.mark.parametrize(("gpu", "vm_size"), [
    ({"count": 4, "type": "nvidia-t4"}, "Standard_NC64as_T4_v3"), ({"count": 2, "type": "nvidia-a10"},
                                                                  "Standard_NV72ads_A10_v5"),
    ({"count": 1, "type": "nvidia-a100-40gb"}, "Standard_NC24ads_A100_v4"),
    ({"count": 4, "type": "nvidia-h100"}, "Standard_ND96isr_H100_v5"),  # outside the table: the user's to judge
])
def test_a_gpu_size_with_the_servers_gpus_validates(gpu: dict[str, Any], vm_size: str) -> None:
    parse_deployment(gpu_spec(gpu, gpu_vm_size=vm_size))


@pytest.mark.parametrize("gpu", [{"count": 1, "type": "nvidia-l4"}, {"count": 4, "type": "nvidia-a10"},
                                 {"count": 3, "type": "nvidia-h100"}])
def test_a_gpu_server_no_known_size_holds_needs_a_named_size(tmp_path: Path, gpu: dict[str, Any]) -> None:
    data = gpu_spec(gpu)
    assert refused_paths(data) == ["targets.aks.gpu_vm_size"]
    stderr = refused_in_cli(tmp_path, data, "targets.aks.gpu_vm_size", "nvidia-l4")  # the one type with no size
    assert "nvidia-a10 (up to 2)" in " ".join(stderr.split())


def test_the_misfit_hint_names_only_sizes_of_the_servers_gpu_type() -> None:
    with pytest.raises(SpecError) as refused:
        parse_deployment(gpu_spec({"count": 1, "type": "nvidia-t4"}) | {"resources": {
            "cpu": 8, "gpu": {"count": 1, "type": "nvidia-t4"}}})
    problem, = refused.value.problems
    suggested = problem.allowed.removeprefix("a size that holds it, e.g. ").split(", ")
    assert suggested == ["Standard_NC16as_T4_v3", "Standard_NC64as_T4_v3"]
    assert all(GPU_SIZES[name].gpu is GpuType.T4 for name in suggested)


def test_a_gpu_size_without_a_gpu_server_is_refused(tmp_path: Path) -> None:
    data = aks_spec("qwen3-1.7b", "Standard_D4ds_v5", targets={"aks": {"gpu_vm_size": "Standard_NC4as_T4_v3"}})
    data["model"].pop("prepare")
    assert refused_paths(data) == ["targets.aks.gpu_vm_size"]
    assert "without resources.gpu" in refused_in_cli(tmp_path, data, "targets.aks.gpu_vm_size",
                                                     "Standard_NC4as_T4_v3")
    data["targets"]["aks"].pop("gpu_vm_size")
    parse_deployment(data)
