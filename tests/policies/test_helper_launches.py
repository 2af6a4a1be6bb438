"""Helpers that share a runtime's image (downloads, wait loops) are not judged as the runtime's server."""

from __future__ import annotations

from slm_deploy.policies import rule_by_id

LLAMA = "ghcr.io/ggml-org/llama.cpp:server-b1@sha256:" + "a" * 64
VLLM = "docker.io/vllm/vllm-openai:v1@sha256:" + "b" * 64


def _deployment(init: list[dict], container: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m", "namespace": "n"},
            "spec": {"template": {"metadata": {"labels": {}}, "spec": {"initContainers": init,
                                                                        "containers": [container]}}}}


def _messages(rule: str, manifest: dict) -> list[str]:
    return [v.message for v in rule_by_id(rule).evaluate(manifest, "Deployment")]


def test_a_wait_loop_in_the_llamacpp_image_is_not_a_server() -> None:
    wait = {"name": "wait", "image": LLAMA, "command": ["/bin/sh", "-c", "until [ -f /models/ready ]; do sleep 5; done"]}
    server = {"name": "server", "image": LLAMA, "command": ["/app/llama-server"], "args": ["--metrics", "--no-slots"]}
    assert _messages("slm-serving-008", _deployment([wait], server)) == []


def test_a_llamacpp_server_without_metrics_is_still_flagged_wherever_it_runs() -> None:
    server = {"name": "server", "image": LLAMA, "command": ["/app/llama-server"], "args": ["--no-slots"]}
    assert any("--metrics" in m for m in _messages("slm-serving-008", _deployment([], server)))
    assert any("--metrics" in m for m in _messages("slm-serving-008", _deployment([], {**server, "command": []})))


def test_a_download_in_the_vllm_image_needs_no_shared_memory_but_the_server_does() -> None:
    download = {"name": "fetch", "image": VLLM, "command": ["python3", "-c", "snapshot_download()"]}
    assert _messages("slm-serving-009", _deployment([], download)) == []
    server = {"name": "server", "image": VLLM, "command": ["vllm", "serve"], "args": ["repo"]}
    assert any("/dev/shm" in m for m in _messages("slm-serving-009", _deployment([], server)))


def test_an_option_value_naming_a_runtime_does_not_make_a_program_that_runtime() -> None:
    """kube-state-metrics watching a namespace called vllm-chat is no vLLM server; vLLM started through Python's
    module runner still is."""
    watcher = {"name": "kube-state-metrics", "image": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2@sha256:"
               + "c" * 64, "args": ["--namespaces=vllm-chat", "--resources=pods"]}
    assert _messages("slm-serving-009", _deployment([], watcher)) == []
    wrapped = {"name": "server", "image": "python:3.12@sha256:" + "d" * 64,
               "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"], "args": ["--model", "repo"]}
    assert any("/dev/shm" in m for m in _messages("slm-serving-009", _deployment([], wrapped)))
