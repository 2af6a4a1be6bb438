"""Whether the pods slm-deploy schedules on the AKS cluster it creates fit a node of the pool they land on: the
conversion of model.prepare and the CPU server on the untainted `apps` pool (targets.aks.system_vm_size), a GPU server
on the `gpu` pool. A pod larger than every node of its pool stays Pending forever."""

from __future__ import annotations

import math
from dataclasses import dataclass

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.quantity import GIB, MIB, human_gib
from slm_deploy.spec.sections import AksTarget, Gpu, GpuType
from slm_deploy.spec.sizing import Sizing


@dataclass(frozen=True)
class VmSize:
    """What one Azure VM size offers: vCPUs, memory, and its whole GPUs and their type (none on CPU sizes)."""

    vcpus: int
    memory_gib: int
    gpus: int = 0
    gpu: GpuType | None = None


GENERAL_PURPOSE = {f"Standard_D{n}{kind}_v5": VmSize(n, 4 * n)
                   for n in (2, 4, 8, 16, 32, 48, 64, 96) for kind in ("s", "ds", "as", "ads")}
"""Dv5 sizes: 4 GiB per vCPU."""
MEMORY_OPTIMISED = {f"Standard_E{n}{kind}_v5": VmSize(n, memory)
                    for n, memory in ((2, 16), (4, 32), (8, 64), (16, 128), (20, 160), (32, 256), (48, 384),
                                      (64, 512), (96, 672)) for kind in ("s", "ds", "as", "ads")}
"""Ev5 sizes: 8 GiB per vCPU up to 64 vCPUs, 672 GiB at 96."""
GPU_SIZES = {
    "Standard_NC4as_T4_v3": VmSize(4, 28, 1, GpuType.T4), "Standard_NC8as_T4_v3": VmSize(8, 56, 1, GpuType.T4),
    "Standard_NC16as_T4_v3": VmSize(16, 110, 1, GpuType.T4), "Standard_NC64as_T4_v3": VmSize(64, 440, 4, GpuType.T4),
    "Standard_NV36ads_A10_v5": VmSize(36, 440, 1, GpuType.A10),
    "Standard_NV72ads_A10_v5": VmSize(72, 880, 2, GpuType.A10),
    "Standard_NC24ads_A100_v4": VmSize(24, 220, 1, GpuType.A100_80),
    "Standard_NC48ads_A100_v4": VmSize(48, 440, 2, GpuType.A100_80),
    "Standard_NC96ads_A100_v4": VmSize(96, 880, 4, GpuType.A100_80),
    "Standard_NC40ads_H100_v5": VmSize(40, 320, 1, GpuType.H100),
    "Standard_NC80adis_H100_v5": VmSize(80, 640, 2, GpuType.H100),
}
"""Azure's single-tenant NC/NV GPU sizes with whole GPUs, from the GPU-accelerated size pages of the Azure docs
(learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/: ncast4v3-series, nvadsa10v5-series,
nca100v4-series with 80 GB A100s, ncadsh100v5-series). The fractional-GPU NVadsA10 v5 sizes are left out."""
VM_SIZES = {**GENERAL_PURPOSE, **MEMORY_OPTIMISED, **GPU_SIZES}
"""The sizes whose fit is checked; a size outside this table is taken as the user's to judge."""


def serves(size: VmSize, gpu_type: GpuType) -> bool:
    """Whether a size's GPUs are of the spec's type. Azure's only 40 GB A100 size has eight GPUs; the 80 GB A100s of
    the NC A100 v4 sizes hold whatever fits in 40 GB."""
    return size.gpu is gpu_type or (gpu_type is GpuType.A100_40 and size.gpu is GpuType.A100_80)


def gpu_sizes_for(gpu: Gpu) -> dict[str, VmSize]:
    """The table's sizes with at least the spec's number of GPUs of its type on one node (one replica per node)."""
    return {name: size for name, size in GPU_SIZES.items() if serves(size, gpu.type) and size.gpus >= gpu.count}


MAX_PODS = 250
"""Azure CNI Overlay's default pods per node, which the cluster's pools keep."""
EVICTION_RESERVE = 100 * MIB
KUBE_RESERVED_CPU = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))
"""(vCPUs, millicores AKS reserves), from AKS's node resource reservations; larger nodes reserve the last value."""


def allocatable(size: VmSize) -> tuple[int, int]:
    """Millicores and bytes a node of this size makes allocatable (AKS 1.29+ reservations: the smaller of 20 MB per
    pod plus 50 MB and a quarter of memory, and a 100 Mi eviction threshold). The cluster's own DaemonSets take some
    of that too, so a pod refused here can never schedule, and one that passes may still need a larger size."""
    memory = size.memory_gib * GIB
    reserved = min(20_000_000 * MAX_PODS + 50_000_000, memory // 4) + EVICTION_RESERVE
    cpu_reserved = next((m for n, m in KUBE_RESERVED_CPU if size.vcpus <= n), KUBE_RESERVED_CPU[-1][1])
    return size.vcpus * 1000 - cpu_reserved, memory - reserved


def gpu_pool_size(aks: AksTarget, spec: DeploymentSpec) -> str | None:
    """The GPU pool's VM size: the spec's, or the smallest size with enough GPUs of the spec's type (None: none)."""
    gpu = spec.resources.gpu
    if aks.gpu_vm_size or gpu is None:
        return aks.gpu_vm_size
    sizes = sorted((size.gpus, size.vcpus, name) for name, size in gpu_sizes_for(gpu).items())
    return sizes[0][2] if sizes else None


def fitting_sizes(table: dict[str, VmSize], millicores: int, memory: int) -> str:
    """The smallest few sizes of a table that hold a pod, for the error's `allowed`."""
    fits = sorted((s.memory_gib, s.vcpus, name) for name, s in table.items()
                  if allocatable(s)[0] >= millicores and allocatable(s)[1] >= memory)
    return ", ".join(name for _, _, name in fits[:3]) or "no size of the table this check knows"


def _misfit(field: str, pod: str, millicores: int, memory: int, size: VmSize, table: dict[str, VmSize],
            hint: str) -> Problem:
    cpu_free, memory_free = allocatable(size)
    return Problem(field, f"{pod} requests {millicores / 1000:g} CPU and {human_gib(memory)} of memory, more than a "
                          f"node of this size can allocate ({cpu_free / 1000:g} CPU, {human_gib(memory_free)}): "
                          "it would never schedule",
                   allowed=f"a size that holds it, e.g. {fitting_sizes(table, millicores, memory)}", hint=hint)


def _fits(size: VmSize, millicores: int, memory: int) -> bool:
    cpu_free, memory_free = allocatable(size)
    return millicores <= cpu_free and memory <= memory_free


def aks_pool_problems(spec: DeploymentSpec, sizing: Sizing) -> list[Problem]:
    """Every pod that would not fit a node of its pool on the cluster targets.aks creates."""
    aks = spec.targets.aks
    if aks is None:
        return []
    problems = []
    apps = VM_SIZES.get(aks.system_vm_size)
    cpu_tables = {**GENERAL_PURPOSE, **MEMORY_OPTIMISED}
    if apps and sizing.preparation_memory_bytes:
        millicores = math.ceil(max(1.0, spec.resources.cpu) * 1000)
        if not _fits(apps, millicores, sizing.preparation_memory_bytes):
            problems.append(_misfit(
                "targets.aks.system_vm_size", "model.prepare's conversion (on the apps pool)", millicores,
                sizing.preparation_memory_bytes, apps, cpu_tables,
                "the conversion holds the 16-bit weights twice: choose a larger apps pool size, "
                "or prepare a smaller model"))
    serving_cpu = math.ceil(spec.resources.cpu * 1000)
    if spec.resources.gpu is None:
        if apps and not _fits(apps, serving_cpu, sizing.host_memory_bytes):
            problems.append(_misfit("targets.aks.system_vm_size", "the server (resources.cpu, resources.memory)",
                                    serving_cpu, sizing.host_memory_bytes, apps, cpu_tables,
                                    "choose a larger apps pool size, or lower resources.cpu and resources.memory"))
        return problems
    return problems + _gpu_pool_problems(gpu_pool_size(aks, spec), spec.resources.gpu, serving_cpu,
                                         sizing.host_memory_bytes)


def largest_gpu_counts() -> str:
    """Per GPU type, the most GPUs one size of the table has: what a spec can ask for without naming a size."""
    most: dict[GpuType, int] = {}
    for gpu_type in GpuType:
        counts = [size.gpus for size in GPU_SIZES.values() if serves(size, gpu_type)]
        if counts:
            most[gpu_type] = max(counts)
    return ", ".join(f"{gpu_type.value} (up to {count})" for gpu_type, count in most.items())


def _gpu_pool_problems(name: str | None, gpu: Gpu, millicores: int, memory: int) -> list[Problem]:
    """A GPU server needs a pool size whose one node has its GPUs, of its type, and its CPU and memory."""
    hint = "choose such a size, or lower resources.gpu.count, or choose another resources.gpu.type"
    if name is None:
        return [Problem("targets.aks.gpu_vm_size", "is unset, and no Azure GPU size this check knows has "
                        "resources.gpu.count GPUs of resources.gpu.type on one node, so the GPU pool has no size",
                        allowed="an Azure GPU size with that many GPUs of that type in targets.aks.gpu_vm_size, or a "
                                f"resources.gpu type and count a known size has: {largest_gpu_counts()}",
                        hint="name a GPU VM size your subscription has quota for")]
    candidates = gpu_sizes_for(gpu)
    allowed = f"a GPU size with enough GPUs of resources.gpu.type, e.g. {fitting_sizes(candidates, millicores, memory)}"
    size = VM_SIZES.get(name)
    if size is None:
        return []
    if size.gpus == 0:
        why = "names a VM size with no GPU"
    elif not serves(size, gpu.type):
        why = "names a VM size whose GPUs are not of resources.gpu.type"
    elif size.gpus < gpu.count:
        why = "names a VM size with fewer GPUs on one node than resources.gpu.count"
    elif not _fits(size, millicores, memory):
        return [_misfit("targets.aks.gpu_vm_size", "the server (resources.cpu, resources.memory)", millicores, memory,
                        size, candidates, "choose a larger GPU size, or lower resources.cpu and resources.memory")]
    else:
        return []
    return [Problem("targets.aks.gpu_vm_size", f"{why}: the GPU server would never schedule", allowed=allowed,
                    hint=hint)]
