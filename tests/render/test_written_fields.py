"""Fields that change the output only on some targets or runtimes do change it there: a written GPU type selects
nodes by GPU memory on a cluster slm-deploy does not create, and a written weight format sets vLLM's --dtype."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.kubernetes.pods import GPU_MEMORY_LABEL, gpu_memory_floor_mib
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import parse_deployment
from slm_deploy.spec.sections import GpuType

REPORTED_MIB = {GpuType.T4: 15360, GpuType.L4: 23034, GpuType.A10: 23028, GpuType.A100_40: 40960,
                GpuType.A100_80: 81920, GpuType.H100: 81559}
"""What nvidia-smi (and so GPU feature discovery's nvidia.com/gpu.memory) reports for each type, in MiB."""


def _llamacpp_on_kubernetes(gpu: dict[str, Any], **targets: Any) -> dict[str, Any]:
    return {"name": "demo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp", "n_gpu_layers": 99},
            "resources": {"gpu": gpu}, "monitoring": {"enabled": True},
            "targets": {"kubernetes": {}, "docker": {"registry": "registry.example:5000"}, **targets}}


def _runtime_pod(spec: dict[str, Any]) -> dict[str, Any]:
    files = render_bundle(parse_deployment(spec)).files
    deployment = yaml.safe_load(files["kubernetes/deployment-demo.yaml"])
    return deployment["spec"]["template"]["spec"]


def test_a_written_gpu_type_selects_nodes_with_its_memory() -> None:
    l4, h100 = (_runtime_pod(_llamacpp_on_kubernetes({"type": t})) for t in ("nvidia-l4", "nvidia-h100"))
    assert l4 != h100
    term = h100["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(gpu_memory_floor_mib(GpuType.H100) - 1)]}
    assert h100["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


@pytest.mark.parametrize("gpu_type", list(GpuType), ids=[t.value for t in GpuType])
def test_every_gpu_of_the_type_passes_its_floor_and_a_smaller_type_does_not(gpu_type: GpuType) -> None:
    floor = gpu_memory_floor_mib(gpu_type)
    assert REPORTED_MIB[gpu_type] > floor - 1
    smaller = [t for t in GpuType if REPORTED_MIB[t] < REPORTED_MIB[gpu_type] * 0.8]
    assert all(REPORTED_MIB[t] <= floor - 1 for t in smaller)


def test_an_unwritten_type_or_an_aks_pool_adds_no_affinity() -> None:
    assert "affinity" not in _runtime_pod(_llamacpp_on_kubernetes({"count": 1}))
    assert "affinity" not in _runtime_pod(_llamacpp_on_kubernetes({"type": "nvidia-a100-80gb"}, aks={}))


def _vllm_dtype(model: dict[str, Any], runtime: dict[str, Any] | None = None) -> str:
    spec = {"name": "demo", "model": {"id": "phi-4-mini-instruct", **model},
            "runtime": {"kind": "vllm", **(runtime or {})}, "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
            "targets": {"compose": {}}}
    args = next(s for s in plan_deployment(parse_deployment(spec)).services if s.role == "runtime").args
    return args[args.index("--dtype") + 1]


@pytest.mark.parametrize(("model", "runtime", "dtype"), [
    ({}, None, "auto"),
    ({"quantisation": "f16"}, None, "float16"),
    ({"quantisation": "bf16"}, None, "bfloat16"),
    ({"quantisation": "f16"}, {"dtype": "float16"}, "float16"),
    ({}, {"dtype": "bfloat16"}, "bfloat16"),
], ids=["model-default", "f16", "bf16", "agreeing-dtype", "dtype-alone"])
def test_a_written_weight_format_sets_vllm_s_dtype(model: dict, runtime: dict | None, dtype: str) -> None:
    assert _vllm_dtype(model, runtime) == dtype


def _compose_readme(gpu_type: str) -> str:
    spec = {"name": "demo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
            "resources": {"gpu": {"type": gpu_type}}, "serving": {"concurrency": 2}, "targets": {"compose": {}}}
    return render_bundle(parse_deployment(spec)).files["README.md"]


def test_on_compose_a_gpu_type_names_the_gpu_the_host_needs() -> None:
    """Compose cannot choose a GPU type, so with the concurrency fixed the type reaches the output only as the
    bundle's statement of the GPU the sizing assumed."""
    t4, l4 = _compose_readme("nvidia-t4"), _compose_readme("nvidia-l4")
    assert t4 != l4
    assert "| GPU per replica | 1 x nvidia-l4 (24.0 GiB each)" in l4
    assert "cannot\nchoose a type. The sizing above assumes nvidia-t4 (16.0 GiB each)" in t4


def _namespaces_admitted_to_the_gateway(exposure: dict[str, Any], **kubernetes: Any) -> list[str]:
    spec = {**_llamacpp_on_kubernetes({"type": "nvidia-l4"}), "exposure": {"mode": "ingress", "host": "llm.contoso.com",
                                                                           **exposure}}
    spec["targets"]["kubernetes"] = kubernetes
    policy = yaml.safe_load(render_bundle(parse_deployment(spec)).files[
        "kubernetes/networkpolicy-demo-gateway-ingress.yaml"])
    return [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in policy["spec"]["ingress"] for peer in rule["from"] if "namespaceSelector" in peer
            and "podSelector" not in peer]


def test_the_ingress_namespace_admits_its_controller_and_defaults_to_the_class_s_own() -> None:
    assert _namespaces_admitted_to_the_gateway({}) == ["ingress-nginx"]
    assert _namespaces_admitted_to_the_gateway({}, ingress_namespace="traefik") == ["traefik"]
    assert _namespaces_admitted_to_the_gateway({"ingress_class": "webapprouting.kubernetes.azure.com"}) == [
        "app-routing-system"]
