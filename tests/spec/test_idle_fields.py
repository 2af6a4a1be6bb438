"""A field the spec writes must change the output: where the chosen runtime and targets read nothing, validate
refuses it (field named, what would read it, exit 2, nothing written), and the same field is accepted where it
matters. Defaults the spec did not write are never an error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import run_in_process

DIGEST = "sha256:" + "a" * 64
COMPOSE: dict[str, Any] = {"name": "demo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
                           "targets": {"compose": {}}}
KUBERNETES: dict[str, Any] = {**COMPOSE, "targets": {"kubernetes": {}, "docker": {"registry": "registry.example:5000"}},
                              "monitoring": {"enabled": True}}
FOUNDRY_HOST: dict[str, Any] = {"name": "demo", "model": {"id": "phi-4-mini-instruct"},
                                "runtime": {"kind": "foundry-local"}, "targets": {"host": {"os": "windows"}}}
FOUNDRY_CONTAINER: dict[str, Any] = {
    **COMPOSE, "model": {"id": "phi-4-mini-instruct"},
    "runtime": {"kind": "foundry-local", "image": f"registry.example/foundry-local:1.0@{DIGEST}"}}
FOUNDRY_HOST_SOURCE: dict[str, Any] = {**FOUNDRY_HOST, "model": {"source": {"kind": "foundry", "alias": "phi-4-mini"}}}
ONNX_LOCAL: dict[str, Any] = {**COMPOSE, "runtime": {"kind": "onnxruntime"},
                              "model": {"source": {"kind": "onnx", "path": "/srv/models/phi4"}, "parameters_billion": 3.8}}
AKS: dict[str, Any] = {"name": "demo", "model": {"id": "phi-4-mini-instruct"}, "runtime": {"kind": "vllm"},
                       "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
                       "targets": {"docker": {"registry": "registry.example:5000"}, "aks": {}}}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


IDLE = {
    "replicas on compose": (COMPOSE, {"serving": {"replicas": 2}}, "serving.replicas", "a kubernetes or aks target"),
    "autoscaling on compose": (COMPOSE, {"serving": {"autoscaling": {"enabled": True}}}, "serving.autoscaling",
                               "a kubernetes or aks target"),
    "replicas under autoscaling": (KUBERNETES, {"serving": {"replicas": 2, "autoscaling": {"enabled": True}}},
                                   "serving.replicas", "min_replicas and max_replicas"),
    "autoscaling field while off": (KUBERNETES, {"serving": {"autoscaling": {"max_replicas": 5}}},
                                    "serving.autoscaling.max_replicas", "serving.autoscaling.enabled: true"),
    "port with auth off": (COMPOSE, {"serving": {"auth": {"enabled": False}}, "exposure": {"port": 9000}},
                           "exposure.port", "serving.auth.enabled: true"),
    "ingress host without ingress": (KUBERNETES, {"exposure": {"mode": "internal", "host": "llm.contoso.com"}},
                                     "exposure.host", "exposure.mode: ingress"),
    "tls without ingress": (COMPOSE, {"exposure": {"tls": {"issuer": "internal-ca"}}}, "exposure.tls",
                            "exposure.mode: ingress"),
    "ingress class without ingress": (COMPOSE, {"exposure": {"ingress_class": "traefik"}}, "exposure.ingress_class",
                                      "exposure.mode: ingress"),
    "internal on loopback compose": (COMPOSE, {"exposure": {"mode": "internal"}}, "exposure.mode",
                                     "a non-loopback exposure.bind_address"),
    "allow-list on llama.cpp": (COMPOSE, {"security": {"trust_remote_code_allowlist": ["Qwen/Qwen3-1.7B"]}},
                                "security.trust_remote_code_allowlist", "unless runtime.kind is vllm"),
    "hub token on ollama": (COMPOSE, {"runtime": {"kind": "ollama"}, "model": {"hub_token_secret": "hf-token"},
                                      "secrets": {"hf-token": {}}}, "model.hub_token_secret",
                            "vllm, llamacpp, onnxruntime"),
    "hub token on foundry local": (COMPOSE, {"runtime": {"kind": "foundry-local", "image":
                                                         f"registry.example/foundry-local:1.0@{DIGEST}"},
                                             "model": {"id": "phi-4-mini-instruct", "hub_token_secret": "hf-token"},
                                             "secrets": {"hf-token": {}}}, "model.hub_token_secret",
                                   "vllm, llamacpp, onnxruntime"),
    "open webui port while it is off": (COMPOSE, {"runtime": {"kind": "ollama", "open_webui": {"port": 3100}}},
                                        "runtime.open_webui.port", "runtime.open_webui.enabled: true"),
    "open webui secret while it is off": (COMPOSE, {"runtime": {"kind": "ollama", "open_webui": {
        "enabled": False, "secret_key_secret": "ui-key"}}, "secrets": {"ui-key": {}}},
                                          "runtime.open_webui.secret_key_secret", "runtime.open_webui.enabled: true"),
    "ingress namespace without ingress": (KUBERNETES, {"targets": {"kubernetes": {"ingress_namespace": "traefik"}}},
                                          "targets.kubernetes.ingress_namespace", "exposure.mode: ingress"),
    "monitoring namespace with monitoring off": (KUBERNETES, {"monitoring": {"enabled": False},
                                                              "targets": {"kubernetes": {"monitoring_namespace": "obs"}}},
                                                 "targets.kubernetes.monitoring_namespace", "monitoring.enabled: true"),
    "monitoring namespace in managed mode": (AKS, {"targets": {"kubernetes": {"monitoring_namespace": "obs"}}},
                                             "targets.kubernetes.monitoring_namespace", "bundled or existing mode"),
    "native context beside a catalogue id": (COMPOSE, {"model": {"native_context": 131072}}, "model.native_context",
                                             "model.source"),
    "parameter count beside a catalogue id": (COMPOSE, {"model": {"parameters_billion": 0.5}},
                                              "model.parameters_billion", "model.source"),
    "architecture beside a catalogue id": (COMPOSE, {"model": {"architecture": {"layers": 2, "kv_heads": 1,
                                                                                "head_dim": 64}}},
                                           "model.architecture", "model.source"),
    "serving port on a foundry local host": (FOUNDRY_HOST, {"serving": {"port": 9000}}, "serving.port",
                                             "runtime.port"),
    "serving port on foundry local in a container": (FOUNDRY_CONTAINER, {"serving": {"port": 9000}}, "serving.port",
                                                     "runtime.port"),
    "weight format on a foundry local host": (FOUNDRY_HOST, {"model": {"quantisation": "int4"}}, "model.quantisation",
                                              "Foundry Local chooses the variant"),
    "revision with a local onnx folder": (ONNX_LOCAL, {"model": {"source": {"revision": "0" * 40}}},
                                          "model.source.revision", "with model.source.repo"),
    "hub token with a local onnx folder": (ONNX_LOCAL, {"model": {"hub_token_secret": "hf-token"},
                                                        "secrets": {"hf-token": {}}},
                                           "model.hub_token_secret", "with model.source.repo"),
    "registry mirror on a foundry local host": (FOUNDRY_HOST, {"security": {"registry_mirror": "mirror.example"}},
                                                "security.registry_mirror", "set runtime.image"),
    "native context on a foundry local host": (FOUNDRY_HOST_SOURCE, {"model": {"native_context": 4096}},
                                               "model.native_context", "Foundry Local"),
    "architecture on a foundry local host": (FOUNDRY_HOST_SOURCE, {"model": {"architecture": {
        "layers": 32, "kv_heads": 8, "head_dim": 128}}}, "model.architecture", "Foundry Local"),
    "parameter count on a foundry local host": (FOUNDRY_HOST_SOURCE, {"model": {"parameters_billion": 3.8}},
                                                "model.parameters_billion", "Foundry Local"),
    "authorised ranges on a private cluster": (AKS, {"targets": {"aks": {"authorized_ip_ranges": ["203.0.113.0/24"]}}},
                                               "targets.aks.authorized_ip_ranges",
                                               "private_cluster: false with these ranges"),
}

USED = {
    "replicas on kubernetes": (KUBERNETES, {"serving": {"replicas": 2}}),
    "autoscaling on kubernetes": (KUBERNETES, {"serving": {"autoscaling": {"enabled": True, "max_replicas": 5}}}),
    "port with auth on": (COMPOSE, {"exposure": {"port": 9000}}),
    "ingress fields with ingress": (KUBERNETES, {"exposure": {"mode": "ingress", "host": "llm.contoso.com",
                                                             "tls": {"issuer": "internal-ca"}}}),
    "internal on a LAN address": (COMPOSE, {"exposure": {"mode": "internal", "bind_address": "10.0.0.5"}}),
    "internal on kubernetes": (KUBERNETES, {"exposure": {"mode": "internal"}}),
    "hub token on llama.cpp": (COMPOSE, {"model": {"hub_token_secret": "hf-token"}, "secrets": {"hf-token": {}}}),
    "defaults everywhere": (COMPOSE, {}),
    "open webui port while it is on": (COMPOSE, {"runtime": {"kind": "ollama", "open_webui": {"enabled": True,
                                                                                         "port": 3100}}}),
    "open webui turned off explicitly": (COMPOSE, {"runtime": {"kind": "ollama", "open_webui": {"enabled": False}}}),
    "ingress namespace with ingress": (KUBERNETES, {"exposure": {"mode": "ingress", "host": "llm.contoso.com"},
                                                    "targets": {"kubernetes": {"ingress_namespace": "traefik"}}}),
    "monitoring namespace in existing mode": (KUBERNETES, {"monitoring": {"mode": "existing"},
                                                           "targets": {"kubernetes": {"monitoring_namespace": "obs"}}}),
    "a docker target that pushes, beside compose": (COMPOSE, {"targets": {"docker": {"registry": "registry.example"}}}),
    "a bare docker target on its own": ({**COMPOSE, "targets": {"docker": {}}}, {}),
    "a bare docker target beside compose (pulumi up builds the images)": (COMPOSE, {"targets": {"docker": {}}}),
    "authorised ranges on a public cluster": (AKS, {"targets": {"aks": {"private_cluster": False,
                                                                        "authorized_ip_ranges": ["203.0.113.0/24"]}}}),
    "no ranges on a private cluster": (AKS, {"targets": {"aks": {"authorized_ip_ranges": []}}}),
    "facts beside an explicit source": ({**COMPOSE, "model": {
        "source": {"kind": "gguf", "repo": "Qwen/Qwen3-1.7B-GGUF", "file": "Qwen3-1.7B-Q4_K_M.gguf",
                   "revision": "0" * 40}}}, {"model": {"parameters_billion": 1.7, "native_context": 32768,
                                                       "architecture": {"layers": 28, "kv_heads": 8, "head_dim": 128}}}),
    "runtime port on a foundry local host": (FOUNDRY_HOST, {"runtime": {"port": 5300}}),
    "a local onnx folder without revision or token": (ONNX_LOCAL, {}),
    "revision and token with an onnx repository": (ONNX_LOCAL, {
        "model": {"source": {"repo": "microsoft/Phi-4-mini-instruct-onnx", "revision": "0" * 40,
                             "path": "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4"}, "hub_token_secret": "hf-token"},
        "secrets": {"hf-token": {}}}),
    "registry mirror on foundry local in a container": (FOUNDRY_CONTAINER,
                                                        {"security": {"registry_mirror": "mirror.example"}}),
    "a foundry local host with a source and no facts": (FOUNDRY_HOST_SOURCE, {}),
    "facts with foundry local in a container": ({**FOUNDRY_CONTAINER, "model": {
        "source": {"kind": "foundry", "alias": "phi-4-mini"}}}, {"model": {"parameters_billion": 3.8,
                                                                            "native_context": 16384}}),
}


def _write(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(IDLE))
def test_a_field_nothing_reads_is_refused(case: str, tmp_path: Path) -> None:
    base, extra, field, allowed = IDLE[case]
    path, out = _write(tmp_path, _merge(base, extra)), tmp_path / "bundle"
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"{field}: has no effect" in result.stderr and allowed in result.stderr, result.stderr
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(USED))
def test_the_same_field_is_accepted_where_it_changes_the_output(case: str, tmp_path: Path) -> None:
    base, extra = USED[case]
    result = run_in_process("validate", str(_write(tmp_path, _merge(base, extra))))
    assert result.code == 0, result.stderr


def test_a_weight_format_that_contradicts_vllm_s_dtype_is_refused(tmp_path: Path) -> None:
    spec = {"name": "demo", "model": {"id": "phi-4-mini-instruct", "quantisation": "f16"},
            "runtime": {"kind": "vllm", "dtype": "bfloat16"}, "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
            "targets": {"compose": {}}}
    result = run_in_process("validate", str(_write(tmp_path, spec)))
    assert result.code == 2 and "model.quantisation: has no effect for vLLM" in result.stderr


def test_a_public_api_server_without_authorised_ranges_is_refused_at_validate(tmp_path: Path) -> None:
    spec = _merge(AKS, {"targets": {"aks": {"private_cluster": False}}})
    path, out = _write(tmp_path, spec), tmp_path / "bundle"
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        assert "targets.aks.authorized_ip_ranges: a public API server needs authorised ranges" in result.stderr
        assert "allowed: CIDRs" in result.stderr
    assert not out.exists()


NULLED = {
    "ingress host": (COMPOSE, {"exposure": {"host": None}}, "exposure.host"),
    "prometheus url": (COMPOSE, {"monitoring": {"prometheus_url": None}}, "monitoring.prometheus_url"),
    "open webui image": (COMPOSE, {"runtime": {"kind": "ollama", "open_webui": {"image": None}}},
                         "runtime.open_webui.image"),
}


@pytest.mark.parametrize("case", sorted(NULLED))
def test_a_field_nothing_reads_written_as_null_is_told_to_go(case: str, tmp_path: Path) -> None:
    base, extra, field = NULLED[case]
    result = run_in_process("validate", str(_write(tmp_path, _merge(base, extra))))
    assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{field}: is null, which is not allowed here" in result.stderr, result.stderr
    assert "has no effect" not in result.stderr and "allowed: remove the key" in result.stderr


BASE_IMAGE = f"registry.example/mirror/image:1.0@sha256:{'7' * 64}"


@pytest.mark.parametrize(("base", "row"), [(COMPOSE, "vllm"), (COMPOSE, "ollama"), (KUBERNETES, "open-webui"),
                                           (FOUNDRY_HOST, "python")])
def test_a_base_image_row_the_deployment_never_uses_is_refused_with_its_path(base: dict[str, Any], row: str,
                                                                              tmp_path: Path) -> None:
    path, out = _write(tmp_path, _merge(base, {"security": {"base_images": {row: BASE_IMAGE}}})), tmp_path / "bundle"
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"security.base_images.{row}: replaces an image this deployment never runs" in result.stderr
        assert "  allowed: rows this deployment uses: " in result.stderr and "7777777" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(("base", "row"), [(COMPOSE, "llamacpp"), (COMPOSE, "python"), (AKS, "vllm"),
                                           (AKS, "nvidia-device-plugin"), (AKS, "cert-manager-webhook")])
def test_a_base_image_row_the_deployment_uses_reaches_the_bundle(base: dict[str, Any], row: str,
                                                                 tmp_path: Path) -> None:
    extra = {"security": {"base_images": {row: BASE_IMAGE}}}
    if row.startswith("cert-manager"):  # cert-manager runs where an AKS cluster serves an Ingress
        extra["exposure"] = {"mode": "ingress", "host": "llm.contoso.com"}
    path, out = _write(tmp_path, _merge(base, extra)), tmp_path / "bundle"
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    assert any("7" * 64 in file.read_text(encoding="utf-8") for file in out.rglob("*") if file.is_file())
