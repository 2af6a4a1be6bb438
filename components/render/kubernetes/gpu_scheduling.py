"""How GPU pods reach GPU nodes: the extended resource, the node label they select, the taint they tolerate.

The AKS GPU pool carries exactly this label and taint, the serving pods and the NVIDIA device plugin select
and tolerate them; one definition keeps the three in step.
"""

from __future__ import annotations

GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABELS = {"nvidia.com/gpu.present": "true"}
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
"""Set by NVIDIA GPU feature discovery (with gpu.present): the GPU's total memory in MiB."""
GPU_MEMORY_REPORTED_PERCENT = 90
"""Nodes are matched on this share of a GPU type's nominal memory, since drivers report a little less."""
GPU_TAINT_EFFECT = "NoSchedule"
GPU_TAINT = f"{GPU_RESOURCE}=present:{GPU_TAINT_EFFECT}"
"""The GPU pool's node taint, in AKS's key=value:effect form."""
GPU_TOLERATIONS = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": GPU_TAINT_EFFECT}]
