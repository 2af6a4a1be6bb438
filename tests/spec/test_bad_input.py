"""Every class of bad input gets one clear message naming the field, exit code 2, no traceback, no output."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli
from tests.support.cli import run_in_process

REVISION = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "a" * 64
BASE: dict[str, Any] = {
    "name": "demo",
    "model": {
        "source": {"kind": "gguf", "repo": "Qwen/Qwen3-1.7B-GGUF", "file": "Qwen3-1.7B-Q4_K_M.gguf",
                   "revision": REVISION},
        "parameters_billion": 1.7,
        "native_context": 32768,
    },
    "runtime": {"kind": "llamacpp"},
    "secrets": {"api-keys": {}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return spec


def _webhook(url: str) -> dict[str, Any]:
    """A webhook receiver at `url` with a bearer token."""
    spec = _with("monitoring.receiver", {"kind": "webhook", "url": url, "token_secret": "am-token"})
    spec["secrets"] = {**spec["secrets"], "am-token": {}}
    return spec


CASES = {
    "unknown top-level key": (_with("servng", {}), ": unknown key", "did you mean 'serving'"),
    "unknown nested key with suggestion": (_with("serving.replcas", 2), "serving.<key 1>: unknown key", "did you mean 'replicas'"),
    "wrong type": (_with("serving.replicas", "two"), "serving.replicas", "must be an integer"),
    "quoted integer": (_with("serving.replicas", "2"), "serving.replicas", "must be an integer (got a string)"),
    "quoted port": (_with("exposure.port", "8081"), "exposure.port", "must be an integer (got a string)"),
    "quoted boolean": (_with("serving.auth", {"enabled": "false"}), "serving.auth.enabled",
                       "must be true or false (got a string)"),
    "YAML 1.1 boolean": (_with("serving.auth", {"enabled": "no"}), "serving.auth.enabled", "must be true or false"),
    "fractional integer": (_with("serving.replicas", 2.5), "serving.replicas", "must be an integer (got a number)"),
    "infinite number": (_with("monitoring", {"slo": {"ttft_p95_seconds": float("inf")}}),
                        "monitoring.slo.ttft_p95_seconds", "finite"),
    "name starts with a digit": (_with("name", "1demo"), "name", "DNS-1035"),
    "host label over 63 characters": (_with("exposure", {"mode": "ingress", "host": "a" * 64 + ".example.com"}),
                                      "exposure.host", "at most 63 characters"),
    "invalid IP address": (_with("exposure.bind_address", "999.1.1.1"), "exposure.bind_address",
                           "not an IPv4 or IPv6 address"),
    "every interface": (_with("exposure.bind_address", "0.0.0.0"), "exposure.bind_address", "every interface"),
    "IPv6 link-local": (_with("exposure.bind_address", "fe80::1"), "exposure.bind_address", "link-local"),
    "IPv4-mapped every interface": (_with("exposure.bind_address", "::ffff:0:0"), "exposure.bind_address",
                                    "IPv4-mapped"),
    "IPv4-mapped loopback": (_with("exposure.bind_address", "::ffff:7f00:1"), "exposure.bind_address",
                             "IPv4-mapped"),
    "IPv4-mapped on a host": (_with("targets", {"host": {"bind_address": "::ffff:0:0"}}),
                              "targets.host.bind_address", "IPv4-mapped"),
    "IPv4 link-local": (_with("exposure.bind_address", "169.254.10.1"), "exposure.bind_address", "link-local"),
    "IPv4 multicast": (_with("exposure.bind_address", "239.1.2.3"), "exposure.bind_address", "multicast"),
    "IPv6 multicast": (_with("exposure.bind_address", "ff02::1"), "exposure.bind_address", "multicast"),
    "IPv4 broadcast": (_with("exposure.bind_address", "255.255.255.255"), "exposure.bind_address", "broadcast"),
    "memory beyond any node": (_with("resources.memory", "999999999999999Ti"), "resources.memory", "at most 1024Ti"),
    "CIDR prefix too long": (_with("targets", {"aks": {"authorized_ip_ranges": ["10.0.0.0/33"]}}),
                             "targets.aks.authorized_ip_ranges[0]", "CIDR"),
    "CIDR with host bits": (_with("targets", {"aks": {"authorized_ip_ranges": ["10.0.0.1/8"]}}),
                            "targets.aks.authorized_ip_ranges[0]", "host bits zero"),
    "UI on the gateway's port": (
        {**_with("runtime", {"kind": "ollama", "open_webui": {"enabled": True, "port": 8080}}),
         "model": {"id": "qwen3-1.7b"}},
        "exposure.port", "is also the host port of runtime.open_webui.port"),
    "UI on the runtime's port without keys": (
        {**_with("runtime", {"kind": "ollama", "open_webui": {"enabled": True, "port": 11434}}),
         "model": {"id": "qwen3-1.7b"}, "serving": {"auth": {"enabled": False}}, "secrets": {}},
        "runtime.open_webui.port", "is also the host port of serving.port"),
    "gateway on its metrics port": (_with("exposure.port", 9464), "exposure.port", "own metrics port"),
    "UI and Grafana on their default port 3000": (
        {**_with("runtime", {"kind": "ollama", "open_webui": {"enabled": True}}), "model": {"id": "qwen3-1.7b"},
         "monitoring": {"grafana": {"enabled": True}}},
        "monitoring.ports.grafana", "is also the host port of runtime.open_webui.port"),
    "gateway on Prometheus' host port": (_with("exposure.port", 9090), "monitoring.ports.prometheus",
                                         "is also the host port of exposure.port"),
    "Prometheus on the gateway's host port": (_with("monitoring.ports.prometheus", 8080), "monitoring.ports.prometheus",
                                              "is also the host port of exposure.port"),
    "ingress without Kubernetes": (_with("exposure", {"mode": "ingress", "host": "llm.example.com"}),
                                   "exposure.mode", "needs a Kubernetes target"),
    "Open WebUI on a LAN address": (
        {**_with("runtime", {"kind": "ollama", "open_webui": {"enabled": True}}),
         "model": {"id": "qwen3-1.7b"}, "exposure": {"bind_address": "192.168.1.10"}},
        "exposure.bind_address", "Open WebUI beyond loopback"),
    "LAN address while exposure is none": (_with("exposure.bind_address", "192.168.1.10"), "exposure.bind_address",
                                            "exposure.mode is none"),
    "runtime on a LAN address without keys": (
        {**_with("serving.auth", {"enabled": False}), "exposure": {"bind_address": "192.168.1.10"}},
        "exposure.bind_address", "without the API-key gateway"),
    "cache smaller than the weights": (
        _with("targets", {"kubernetes": {"cache_size": "100Mi"}, "docker": {"registry": "registry.example"}}),
        "targets.kubernetes.cache_size", "cannot hold"),
    "negative GPU layers": (_with("runtime.n_gpu_layers", -1), "runtime.n_gpu_layers", "at least 0"),
    "GPU layers without a GPU": (_with("runtime.n_gpu_layers", 20), "runtime.n_gpu_layers", "resources.gpu"),
    "extra arg that trusts remote code": (
        {**_with("runtime", {"kind": "vllm", "extra_args": ["--trust-remote-code"]}),
         "model": {"id": "qwen3-1.7b"}, "resources": {"gpu": {"type": "nvidia-l4"}}},
        "runtime.extra_args[0]", "not a flag slm-deploy passes through to vllm"),
    "extra arg that overrides the sizing": (
        _with("runtime.extra_args", ["--ctx-size", "1000000"]), "runtime.extra_args[0]", "passes through"),
    "extra arg with a bad value": (_with("runtime.extra_args", ["--batch-size", "--slots"]), "runtime.extra_args[0]",
                                   "a whole number"),
    "Kubernetes without a registry": (_with("targets", {"kubernetes": {}}), "targets.docker.registry",
                                      "the cluster must pull the images slm-deploy builds"),
    "waiver of an unknown rule": (
        _with("waivers", [{"rule": "slm-k8s-999", "resource": "Deployment/demo", "reason": "reviewed by ops"}]),
        "waivers[0].rule", "not a rule of the policy pack"),
    "secret name that is not a name": (_with("serving.auth", {"api_keys_secret": "Bearer abc"}),
                                       "serving.auth.api_keys_secret", "DNS-1123"),
    "bad key in a mapping": (_with("secrets", {"API_KEYS": {"backend": "file"}}), "secrets",
                             "has a key that is not allowed"),
    "unknown runtime": (_with("runtime", {"kind": "vllmm"}), "runtime.kind", "did you mean 'vllm'"),
    "name not DNS-1035": (_with("name", "My_Model"), "name", "DNS-1035"),
    "name too long": (_with("name", "a" * 41), "name", "at most 40"),
    "newline in name": (_with("name", "demo\nrm"), "name", "DNS-1035"),
    "template in arg": (_with("runtime.extra_args", ["--x={{ evil }}"]), "runtime.extra_args[0]", "no spaces, quotes"),
    "command substitution in arg": (_with("runtime.extra_args", ["$(reboot)"]), "runtime.extra_args[0]",
                                    "no spaces, quotes"),
    "quote in env value": (_with("runtime.env", {"LOG_FORMAT": 'a"b'}), "runtime.env.LOG_FORMAT", "no quotes"),
    "newline in env value": (_with("runtime.env", {"LOG_FORMAT": "a\nb"}), "runtime.env.LOG_FORMAT", "no quotes"),
    "lower-case env name": (_with("runtime.env", {"log format": "x"}), "runtime.env", "upper-case"),
    "secret-looking env name": (_with("runtime.env", {"HF_TOKEN": "x"}), "runtime.env.HF_TOKEN", "secret"),
    "template in system prompt": (
        _with("runtime", {"kind": "ollama", "modelfile": {"system_prompt": "hi {{ x }}"}}),
        "runtime.modelfile.system_prompt", "template or shell"),
    "image tag latest": (_with("runtime.image", f"ghcr.io/ggml-org/llama.cpp:latest@{DIGEST}"), "runtime.image",
                         "latest"),
    "image without digest": (_with("runtime.image", "ghcr.io/ggml-org/llama.cpp:server-b1"), "runtime.image",
                             "pinned by digest"),
    "revision is a branch": (_with("model.source.revision", "main"), "model.source.revision", "commit sha"),
    "huggingface source without revision": (
        {**_with("runtime", {"kind": "vllm"}), "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B"}, "parameters_billion": 8.2}},
        "model.source.revision", "required"),
    "source of another runtime": (_with("model.source", {"kind": "ollama", "tag": "qwen3:1.7b"}),
                                  "model.source.kind", "cannot load"),
    "quantisation the runtime cannot serve": (_with("model.quantisation", "awq"), "model.quantisation",
                                              "cannot serve"),
    "cannot fit memory": (_with("resources.memory", "1Gi"), "resources.memory", "short by"),
    "cannot fit GPU": (
        {**_with("runtime", {"kind": "vllm"}),
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B", "revision": REVISION},
                   "parameters_billion": 8.2, "native_context": 32768, "context_length": 32768},
         "resources": {"gpu": {"count": 1, "type": "nvidia-t4"}}},
        "resources.gpu", "short by"),
    "vllm without GPU": (
        {**_with("runtime", {"kind": "vllm"}),
         "model": {"source": {"kind": "huggingface", "repo": "Qwen/Qwen3-8B", "revision": REVISION},
                   "parameters_billion": 8.2}},
        "resources.gpu", "needs an NVIDIA GPU"),
    "undeclared secret": (_with("serving.auth", {"api_keys_secret": "gateway-keys"}),
                          "serving.auth.api_keys_secret", "does not declare"),
    "reserved namespace": (_with("targets", {"kubernetes": {"namespace": "default"},
                                             "docker": {"registry": "registry.example"}}),
                           "targets.kubernetes.namespace", "the cluster itself uses"),
    "context above native": (_with("model.context_length", 65536), "model.context_length", "exceeds"),
    "slots endpoint without waivers": (_with("runtime.slots", True), "runtime.slots", "slm-serving-008"),
    "ingress without host": (_with("exposure", {"mode": "ingress"}), "exposure.host", "required"),
    "reviewed remote code of another model": (
        {**_with("runtime", {"kind": "vllm", "trust_remote_code": True}), "model": {"id": "qwen3-1.7b"},
         "resources": {"gpu": {"type": "nvidia-l4"}}, "security": {"trust_remote_code_allowlist": ["qwen3-1.7b"]}},
        "runtime.trust_remote_code", "owner/name"),
    "not a mapping": (["name", "demo"], "<spec>", "expected a mapping"),
    "gated model without a hub token": (
        {**_with("runtime", {"kind": "vllm"}), "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
         "model": {"id": "llama-3.2-3b-instruct"}},
        "model.hub_token_secret", "gated"),
    "unknown catalogue model": ({**BASE, "model": {"id": "qwen3-1.7"}}, "model.id", "did you mean 'qwen3-1.7b'"),
    "bearer token over http": (_webhook("http://hooks.example.com/alert"), "monitoring.receiver.url",
                               "bearer token in cleartext"),
}


@pytest.mark.parametrize("url", ["https://hooks.example.com/alert", "http://127.0.0.1:9999/hook",
                                 "http://localhost/hook"])
def test_a_bearer_token_goes_over_https_or_stays_on_loopback(url: str, tmp_path: Path) -> None:
    assert run_in_process("validate", str(_write(tmp_path, _webhook(url)))).code == 0


def _write(tmp_path: Path, spec: Any) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_error(case: str, tmp_path: Path) -> None:
    spec, field, words = CASES[case]
    out = tmp_path / "bundle"
    path = _write(tmp_path, spec)
    for command in (["validate", str(path)], ["render", str(path), "--out", str(out)]):
        result = run_in_process(*command)
        assert result.code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"{path}:" in result.stderr, "every error names the file and line"
        assert field in result.stderr
        assert words in result.stderr
    assert not out.exists()


def test_the_console_script_reports_bad_input_the_same_way(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run_cli("render", str(_write(tmp_path, _with("serving.replicas", "2"))), "--out", str(out))
    assert result.code == 2 and "serving.replicas: must be an integer (got a string)" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nmodel:\n  id: [unclosed\n", encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert "malformed YAML" in result.stderr and "spec.yaml:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "absent.yaml"))
    assert result.code == 2 and "Traceback" not in result.stderr


def test_error_shows_the_kind_of_value_not_the_value(tmp_path: Path) -> None:
    secret_like = "hf_abcdefghijklmnopqrstuvwxyz0123456789"
    result = run_cli("validate", str(_write(tmp_path, _with("serving.port", secret_like))))
    assert result.code == 2
    assert secret_like not in result.stderr
    assert "got a string" in result.stderr


def test_fit_error_says_what_to_change(tmp_path: Path) -> None:
    result = run_cli("validate", str(_write(tmp_path, _with("resources.memory", "1Gi"))))
    assert "raise resources.memory" in result.stderr and "allowed: at least" in result.stderr
